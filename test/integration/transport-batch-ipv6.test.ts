/**
 * The batch transport over an IPv6 underlay between two namespaces joined by
 * a veth (fd77::/64, and 10.77.0.0/24 for the dual-stack case): UDP GSO
 * super-datagrams leave one side and arrive at the other as GRO runs, every
 * datagram byte for byte, and no ring slot is left taken on either side.
 * One socket in the second namespace is bound to '::' (dual-stack), so it
 * also hears and answers an IPv4 sender, named in dotted text.
 *
 * The transports run in child processes, one per socket, inside the
 * namespaces (a process has one network namespace), driven by JSON lines
 * on stdin and stdout; they load the compiled transport from dist/.
 * Rounds are paced by the receiver's count, so no socket buffer can
 * overflow and every count is exact.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';

const root = requireRoot();
const DIST = fileURLToPath(new URL('../../dist/src/', import.meta.url));
const ID = process.pid % 10000;
/** Runs of 40 datagrams of 1400 bytes and one of 700: GSO's case (1448-byte IPv6 segments fit the veth's 1500). */
const RUN = 41;
const ROUND = 10 * RUN;
const ROUNDS = 5;

/** The child: one BatchUdpTransport (GSO and GRO on) in its namespace; commands on stdin, one JSON reply each. */
const CHILD = `
import { createInterface } from 'node:readline';
const env = process.env;
const { PacketRing } = await import(env.W6T_DIST + 'buf/packet-ring.js');
const { BatchUdpTransport } = await import(env.W6T_DIST + 'transport/batch-udp-transport.js');
const { GRO_STAGING_BYTES } = await import(env.W6T_DIST + 'transport/udp-gro-stage.js');
const { makeEndpoint } = await import(env.W6T_DIST + 'transport/dgram-transport.js');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const sizeOf = (seq) => (seq % ${RUN} === ${RUN - 1} ? 700 : 1400);
const ring = new PacketRing({ slots: 1024, staging: GRO_STAGING_BYTES });
const t = await BatchUdpTransport.open({ ring, port: 0, bindAddress: env.W6T_BIND, family: Number(env.W6T_FAMILY), gso: true, gro: true });
let received = 0, corrupt = 0, bytes = 0;
const from = {};
t.onReceive((slot, address, port) => {
  const off = ring.offset[slot], len = ring.length[slot];
  const seq = ring.view.getUint32(off);
  let ok = len === sizeOf(seq);
  for (let i = 4; ok && i < len; i++) ok = ring.bytes[off + i] === ((seq + i) & 0xff);
  if (ok) received++; else corrupt++;
  bytes += len;
  const k = address + ' ' + port;
  from[k] = (from[k] ?? 0) + 1;
  ring.release(slot);
});
out({ port: t.localPort, family: t.family, gso: t.gso, gro: t.gro });
for await (const line of createInterface({ input: process.stdin })) {
  const c = JSON.parse(line);
  if (c.cmd === 'send') {
    const to = makeEndpoint(c.to, c.port);
    for (let seq = c.first; seq < c.first + c.count; seq++) {
      const slot = ring.acquire();
      const off = ring.offset[slot], len = sizeOf(seq);
      ring.view.setUint32(off, seq);
      for (let i = 4; i < len; i++) ring.bytes[off + i] = (seq + i) & 0xff;
      ring.length[slot] = len;
      t.send(slot, to);
    }
    t.flush();
    out({ sent: t.stats.sentPackets, errors: t.stats.sendErrors, messages: t.sendMessages, gso: t.gso, free: ring.free, slots: ring.slotCount });
  } else if (c.cmd === 'report') {
    const stage = t.groStage;
    out({ received, corrupt, bytes, from, runs: stage.coalescedRuns, runDatagrams: stage.coalescedDatagrams, stats: t.stats, free: ring.free, slots: ring.slotCount });
  } else if (c.cmd === 'close') {
    await t.close();
    out({ closed: true });
    process.exit(0);
  }
}
`;

interface Reply {
  [key: string]: unknown;
}

/** A child transport: send it a command, get its reply. */
class Child {
  private readonly replies: Reply[] = [];
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void } | null = null;
  private stderr = '';
  private exited: Error | null = null;

  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const r = JSON.parse(line) as Reply;
      const w = this.waiting;
      this.waiting = null;
      if (w !== null) w.resolve(r);
      else this.replies.push(r);
    });
    proc.once('exit', (code, signal) => {
      this.exited = new Error(`child exited (${code ?? signal}): ${this.stderr.trim()}`);
      this.waiting?.reject(this.exited);
      this.waiting = null;
    });
  }

  next(): Promise<Reply> {
    const r = this.replies.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.exited !== null) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  ask(command: Reply): Promise<Reply> {
    this.proc.stdin.write(JSON.stringify(command) + '\n');
    return this.next();
  }
}

describe.skipIf(!root)('the batch transport over an IPv6 underlay (veth between namespaces)', () => {
  const sb = new NetnsSandbox('w6t');
  const children: Child[] = [];
  let a6: Child, a4: Child, b: Child;
  let portA6 = 0, portA4 = 0, portB = 0;

  const child = async (ns: string, bind: string, family: 4 | 6): Promise<[Child, number]> => {
    const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', CHILD], {
      env: { ...process.env, W6T_DIST: DIST, W6T_BIND: bind, W6T_FAMILY: String(family) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const c = new Child(proc);
    children.push(c);
    const hello = await c.next();
    expect(hello).toMatchObject({ family, gso: true, gro: true });
    return [c, hello.port as number];
  };

  /** Wait until `c` has received `total` datagrams intact; its report then. */
  const receivedAll = async (c: Child, total: number): Promise<Reply> => {
    for (let i = 0; i < 500; i++) {
      const r = await c.ask({ cmd: 'report' });
      if ((r.received as number) + (r.corrupt as number) >= total) return r;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return c.ask({ cmd: 'report' });
  };

  /** ROUNDS rounds from `from` to `to`:port, each waited for at the receiver; returns both sides' last words. */
  const rounds = async (from: Child, to: Child, address: string, port: number): Promise<{ sent: Reply; got: Reply }> => {
    const before = (await to.ask({ cmd: 'report' })).received as number;
    let sent: Reply = {};
    for (let r = 0; r < ROUNDS; r++) {
      sent = await from.ask({ cmd: 'send', to: address, port, first: r * ROUND, count: ROUND });
      await receivedAll(to, before + (r + 1) * ROUND);
    }
    return { sent, got: await to.ask({ cmd: 'report' }) };
  };

  beforeAll(async () => {
    if (!existsSync(`${DIST}transport/batch-udp-transport.js`)) throw new Error(`${DIST} is not built: npx tsc -p tsconfig.build.json`);
    const nsA = await sb.create();
    const nsB = await sb.create();
    await sb.veth(nsA, `w6tv${ID}a`, nsB, `w6tv${ID}b`);
    for (const [ns, dev, host] of [[nsA, `w6tv${ID}a`, 1], [nsB, `w6tv${ID}b`, 2]] as const) {
      // nodad: the address is usable at once, not after duplicate address detection.
      await sb.run(ns, ['ip', '-6', 'addr', 'add', `fd77::${host}/64`, 'nodad', 'dev', dev]);
      await sb.run(ns, ['ip', 'addr', 'add', `10.77.0.${host}/24`, 'dev', dev]);
    }
    [a6, portA6] = await child(nsA, 'fd77::1', 6);
    [a4, portA4] = await child(nsA, '10.77.0.1', 4);
    [b, portB] = await child(nsB, '', 6); // '::', dual-stack
  });

  afterAll(async () => {
    for (const c of children.splice(0)) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGKILL');
        await new Promise((resolve) => c.proc.once('exit', resolve));
      }
    }
    await sb.destroy();
  });

  it('IPv6: GSO super-datagrams out, GRO runs in, every datagram intact, from fd77::1', async () => {
    const { sent, got } = await rounds(a6, b, 'fd77::2', portB);
    expect(sent).toMatchObject({ sent: ROUNDS * ROUND, errors: 0, gso: true, free: 1024 });
    expect(sent.messages as number).toBeLessThan((ROUNDS * ROUND) / 10); // runs of 41 left as about one message each
    expect(got).toMatchObject({ received: ROUNDS * ROUND, corrupt: 0, from: { [`fd77::1 ${portA6}`]: ROUNDS * ROUND }, free: 1024 });
    expect(got.bytes).toBe(ROUNDS * 10 * (40 * 1400 + 700));
    expect(got.stats).toMatchObject({ droppedRingFull: 0, droppedOversize: 0 });
    // The veth kept the GSO messages whole up to the GRO socket.
    expect(got.runs as number).toBeGreaterThan(0);
    expect(got.runDatagrams as number).toBeGreaterThan((got.runs as number) * 10);
  });

  it('the dual-stack socket hears an IPv4 sender as 10.77.0.1 and answers both families', async () => {
    const four = await rounds(a4, b, '10.77.0.2', portB);
    expect(four.sent).toMatchObject({ sent: ROUNDS * ROUND, errors: 0, free: 1024 });
    expect(four.got).toMatchObject({ corrupt: 0, from: { [`10.77.0.1 ${portA4}`]: ROUNDS * ROUND, [`fd77::1 ${portA6}`]: ROUNDS * ROUND }, free: 1024 });
    // Back from '::' to each: the IPv4 one through its mapped address, GSO still on.
    const back4 = await rounds(b, a4, '10.77.0.1', portA4);
    expect(back4.got).toMatchObject({ received: ROUNDS * ROUND, corrupt: 0, from: { [`10.77.0.2 ${portB}`]: ROUNDS * ROUND }, free: 1024 });
    const back6 = await rounds(b, a6, 'fd77::1', portA6);
    expect(back6.got).toMatchObject({ received: ROUNDS * ROUND, corrupt: 0, from: { [`fd77::2 ${portB}`]: ROUNDS * ROUND }, free: 1024 });
    expect(back6.sent).toMatchObject({ sent: 2 * ROUNDS * ROUND, errors: 0, gso: true, free: 1024 });
    expect(back6.sent.messages as number).toBeLessThan((2 * ROUNDS * ROUND) / 10);
    for (const c of [a6, a4, b]) expect(await c.ask({ cmd: 'close' })).toEqual({ closed: true });
  });
});
