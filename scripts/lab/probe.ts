#!/usr/bin/env node
/**
 * weft's own probes, for machines without ping or iperf3 (the demo falls
 * back to them): run inside a pod's namespace with the node binary that
 * runs the demo, so `npm install` brings everything they need.
 *
 *   probe.js reach PORT IP...     one TCP connect per address, all at once; prints {"ip": true|false}
 *   probe.js sink PORT            accept one connection, count its bytes; prints {"bytes","ms"}
 *   probe.js source IP PORT SECS  send zeros as fast as TCP takes them for SECS seconds
 *
 * Reachability by TCP connect needs no listener: a closed port answers with
 * a reset, which proves the path there and back as an echo reply would;
 * only silence (the timeout) means unreachable.
 */
import { connect, createServer } from 'node:net';

const REACH_TIMEOUT_MS = 2000;

function reachOne(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), REACH_TIMEOUT_MS);
    socket.on('connect', () => done(true));
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
  });
}

async function reach(port: number, ips: string[]): Promise<void> {
  const results = await Promise.all(ips.map((ip) => reachOne(ip, port)));
  process.stdout.write(`${JSON.stringify(Object.fromEntries(ips.map((ip, i) => [ip, results[i]])))}\n`);
}

function sink(port: number): void {
  const server = createServer((socket) => {
    const start = process.hrtime.bigint();
    let bytes = 0;
    socket.on('data', (d: Buffer) => (bytes += d.length));
    socket.on('end', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      process.stdout.write(`${JSON.stringify({ bytes, ms })}\n`);
      server.close();
      socket.end();
    });
  });
  server.listen(port, () => process.stdout.write('listening\n'));
}

function source(ip: string, port: number, seconds: number): void {
  const chunk = Buffer.alloc(64 * 1024);
  const socket = connect({ host: ip, port }, () => {
    const until = Date.now() + seconds * 1000;
    const pump = () => {
      while (Date.now() < until) if (!socket.write(chunk)) return void socket.once('drain', pump);
      socket.end();
    };
    pump();
  });
  socket.on('error', (err) => {
    process.stderr.write(`probe source: ${err.message}\n`);
    process.exit(1);
  });
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'reach') await reach(Number(args[0]), args.slice(1));
else if (mode === 'sink') sink(Number(args[0]));
else if (mode === 'source') source(args[0]!, Number(args[1]), Number(args[2]));
else {
  process.stderr.write('usage: probe.js reach PORT IP... | sink PORT | source IP PORT SECONDS\n');
  process.exit(2);
}
