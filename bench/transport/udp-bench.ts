/**
 * UDP transport throughput over loopback: datagrams per second one Node
 * thread sends, and receives, through DgramTransport and BatchUdpTransport,
 * at 64- and 1400-byte datagrams, with the garbage collections each run saw.
 *
 *   npx tsc -p tsconfig.build.json && node --expose-gc dist/bench/transport/udp-bench.js
 *   (WEFT_BENCH_SECONDS=3 by default; no root needed; 127.0.0.1 and ::1 only)
 *
 * send:    the main thread sends from a 1024-slot ring as fast as slots come
 *          back, 256 sends per event loop turn (then flush()), to a socket
 *          on 127.0.0.1 that nobody reads: the kernel drops what overflows
 *          that socket's queue, so only the send path is measured.
 *          "batch+gso" is the batch transport with UDP GSO: every datagram
 *          has one size and one destination, GSO's best case. The "6"
 *          kinds are the batch transport on ::1 (an IPv6 socket; senders
 *          named through the IPv6 cache, address-names.ts).
 * receive: a worker thread blasts datagrams at the transport under test with
 *          the addon's sendmmsg (64 per call), and the main thread receives
 *          and releases them; "recv/s" is what the transport delivered to
 *          its handler. The worker is on another core when there is one, so
 *          the figures are what one receiving thread keeps up with.
 *
 * GC columns count young-generation (scavenge) and full collections during
 * the timed window, and scavenges per million datagrams. Both ends share
 * one machine (and on a busy machine, its cores), so the numbers compare
 * the two transports; they are not a NIC benchmark.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { PacketRing } from '../../src/buf/packet-ring.ts';
import { loadAddon } from '../../src/native/addon.ts';
import { BatchUdpTransport } from '../../src/transport/batch-udp-transport.ts';
import { DgramTransport, makeEndpoint } from '../../src/transport/dgram-transport.ts';
import type { Transport } from '../../src/transport/transport.ts';
import { gcWindow, hasGc } from '../util/measure.ts';

const SECONDS = Number(process.env.WEFT_BENCH_SECONDS ?? 3);
const WARMUP_MS = 300;
const SIZES = [64, 1400];
const KINDS = ['dgram', 'batch', 'batch+gso', 'batch6', 'batch6+gso'] as const;
type Kind = (typeof KINDS)[number];
const LOOPBACK = '127.0.0.1';
const LOOPBACK6 = '::1';
const isV6 = (kind: Kind): boolean => kind.startsWith('batch6');
const loopbackOf = (kind: Kind): string => (isV6(kind) ? LOOPBACK6 : LOOPBACK);
const BURST = 256;

interface FeederData {
  family: 4 | 6;
  port: number;
  size: number;
  ms: number;
}

interface Row {
  case: string;
  perSecond: number;
  scavenges: number;
  majorGcs: number;
  scavengesPerMillion: number;
  extra: string;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function openTransport(kind: Kind, ring: PacketRing): Promise<Transport> {
  const options = { ring, port: 0, bindAddress: loopbackOf(kind) };
  if (kind === 'dgram') return DgramTransport.open(options);
  return BatchUdpTransport.open({ ...options, gso: kind.endsWith('+gso') });
}

async function benchSend(kind: Kind, size: number): Promise<Row> {
  const addon = loadAddon();
  // The sink: bound, never read. Its queue overflows and the kernel drops the rest.
  const sink = addon.udpOpen(isV6(kind) ? 6 : 4, loopbackOf(kind), 0, 0, 0);
  const ring = new PacketRing({ slots: 1024 });
  const t = await openTransport(kind, ring);
  const to = makeEndpoint(loopbackOf(kind), sink.port);
  const pump = async (ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      for (let i = 0; i < BURST; i++) {
        const slot = ring.acquire();
        if (slot < 0) break;
        ring.length[slot] = size;
        t.send(slot, to);
      }
      t.flush?.();
      await tick();
    }
    while (ring.free < ring.slotCount) await tick();
  };
  await pump(WARMUP_MS);
  const sent0 = t.stats.sentPackets;
  const w = await gcWindow(() => pump(SECONDS * 1000));
  const seconds = w.ns / 1e9;
  const sent = t.stats.sentPackets - sent0;
  const errors = t.stats.sendErrors;
  await t.close();
  addon.closeFd(sink.fd);
  return {
    case: `send ${kind} ${size} B`,
    perSecond: sent / seconds,
    scavenges: w.scavenges,
    majorGcs: w.majorGcs,
    scavengesPerMillion: (w.scavenges * 1e6) / Math.max(1, sent),
    extra: [errors > 0 ? `${errors} send errors` : '', t instanceof BatchUdpTransport ? `${(t.stats.sentPackets / t.sendMessages).toFixed(1)} datagrams per message` : '']
      .filter(Boolean)
      .join(', '),
  };
}

async function benchReceive(kind: Kind, size: number): Promise<Row> {
  const ring = new PacketRing({ slots: 4096 });
  const t = await openTransport(kind, ring);
  let received = 0;
  t.onReceive((slot) => {
    received++;
    ring.release(slot);
  });
  const feeder = new Worker(new URL(import.meta.url), {
    workerData: { family: isV6(kind) ? 6 : 4, port: t.localPort, size, ms: WARMUP_MS + SECONDS * 1000 + 500 } satisfies FeederData,
  });
  const feederSent = new Promise<number>((resolve, reject) => {
    feeder.once('message', (n: number) => resolve(n));
    feeder.once('error', reject);
  });
  await sleep(WARMUP_MS);
  const r0 = received;
  const w = await gcWindow(async () => {
    await sleep(SECONDS * 1000);
    return received - r0; // now, not after the GC entries have settled
  });
  const got = w.result;
  const seconds = w.ns / 1e9;
  const offered = await feederSent;
  await t.close();
  const dropped = t.stats.droppedRingFull;
  return {
    case: `recv ${kind} ${size} B`,
    perSecond: got / seconds,
    scavenges: w.scavenges,
    majorGcs: w.majorGcs,
    scavengesPerMillion: (w.scavenges * 1e6) / Math.max(1, got),
    extra: `feeder offered ${(offered / 1e6).toFixed(2)} M${dropped > 0 ? `, ring-full drops ${dropped}` : ''}`,
  };
}

/** Worker: blast `size`-byte datagrams at 127.0.0.1:port (or [::1]:port) with sendmmsg for `ms`, then post the count. */
function runFeeder(data: FeederData): void {
  const addon = loadAddon();
  const v6 = data.family === 6;
  const sock = addon.udpOpen(data.family, v6 ? LOOPBACK6 : LOOPBACK, 0, 0, 4 << 20);
  const batch = 64;
  const ring = new PacketRing({ slots: batch });
  const slots = new Int32Array(batch);
  // ::1 is fifteen zero bytes and a 1, 16 bytes per message.
  const addrs = v6 ? new Uint8Array(16 * batch).map((_, i) => (i % 16 === 15 ? 1 : 0)) : new Uint32Array(batch).fill(0x7f000001);
  const ports = new Uint16Array(batch).fill(data.port);
  const status = new Int32Array(3);
  for (let i = 0; i < batch; i++) {
    slots[i] = ring.acquire();
    ring.length[slots[i]!] = data.size;
  }
  let sent = 0;
  const end = Date.now() + data.ms;
  while (Date.now() < end) {
    for (let i = 0; i < 16; i++) sent += addon.udpSendBatch(sock.fd, ring.buffer, ring.offset, ring.length, slots, batch, addrs, ports, status);
  }
  addon.closeFd(sock.fd);
  parentPort?.postMessage(sent);
}

function printRows(rows: Row[]): void {
  const header = ['case', 'datagrams/s', 'scavenges', 'major GCs', 'scavenges/M', 'note'];
  const lines = rows.map((r) => [
    r.case,
    Math.round(r.perSecond).toLocaleString('en-US'),
    String(r.scavenges),
    String(r.majorGcs),
    r.scavengesPerMillion.toFixed(1),
    r.extra,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    '| ' + cells.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  console.log(fmt(header));
  console.log('|' + widths.map((w, i) => (i === 0 || i === 5 ? ':' + '-'.repeat(w + 1) : '-'.repeat(w + 1) + ':')).join('|') + '|');
  for (const l of lines) console.log(fmt(l));
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const size of SIZES) {
    for (const kind of KINDS) rows.push(await benchSend(kind, size));
  }
  // GSO changes only the send side: the receive rows compare dgram and batch on each family.
  for (const size of SIZES) {
    for (const kind of KINDS) if (!kind.endsWith('+gso')) rows.push(await benchReceive(kind, size));
  }
  console.log(`UDP over 127.0.0.1 (batch6: ::1), ${SECONDS} s per case, node ${process.version}`);
  printRows(rows);
  if (!hasGc()) console.log('\n(run with node --expose-gc for a collected heap before each case)');
}

if (isMainThread) await main();
else runFeeder(workerData as FeederData);
