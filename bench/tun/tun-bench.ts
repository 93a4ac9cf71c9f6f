/**
 * TUN batch I/O throughput: packets per second Node reads from a real TUN
 * device and writes to it through NativeTun.readBatch / writeBatch, at 64- and
 * 1400-byte IP packets.
 *
 *   npm run prepare && npm run bench:tun       (root; WEFT_BENCH_SECONDS=3 by default)
 *
 * The device is opened here and moved into a namespace the bench creates, as
 * in the integration test; all traffic stays inside that namespace.
 *
 * read:  a sender process in the namespace blasts UDP at 10.203.0.2 (routed
 *        into the TUN) for the duration; Node reads on every readable event
 *        until EAGAIN (at most 16 batches of 64) and releases the slots.
 *        "per event" is packets read per readable event; "kernel drop" is what
 *        the TUN queue dropped because Node did not read in time (tx_dropped).
 * write: Node writes one prepared batch of 64 UDP packets (to a socket in the
 *        namespace) again and again, 16 batches per event loop turn.
 *        "delivered" is what the receiving Node socket got: a single-threaded
 *        receiver is usually the bottleneck there, not the TUN write.
 *
 * Both sides are single Node processes on the same machine, so the figures
 * are a floor on what the native path can do, not a NIC benchmark.
 */
import { spawnSync } from 'node:child_process';
import { release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { PacketRing, SlotBatch } from '../../src/buf/packet-ring.ts';
import { Link } from '../../src/tun/link.ts';
import { openTun } from '../../src/tun/native-tun.ts';
import type { NativeTun } from '../../src/tun/native-tun.ts';
import { NetnsSandbox } from '../../test/helpers/netns.ts';
import { udpDatagram } from '../../test/helpers/packets.ts';
import { GcRecorder, type GcCounts } from '../util/measure.ts';

const SECONDS = Number(process.env.WEFT_BENCH_SECONDS ?? 3);
const SIZES = [64, 1400];
const BATCH = 64;
const EVENT_BUDGET = 16; // batches per readable event / per write turn
const LOCAL = '10.203.0.1';
const PEER = '10.203.0.2';
const RECV_PORT = 9000;

/** Sender: keeps up to 1024 sends in flight on a connected socket until the time is up; prints the count. */
const SENDER = `
const dgram = require('node:dgram');
const [dst, size, secs] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
const buf = Buffer.alloc(Number(size), 0x61);
let sent = 0, inflight = 0;
const end = Date.now() + Number(secs) * 1000;
const done = (err) => { inflight--; if (!err) sent++; };
s.connect(9, dst, () => {
  const pump = () => {
    if (Date.now() >= end) {
      const wait = () => (inflight > 0 ? setImmediate(wait) : (console.log(sent), s.close()));
      return wait();
    }
    for (let i = 0; i < 256 && inflight < 1024; i++) { inflight++; s.send(buf, 0, buf.length, done); }
    setImmediate(pump);
  };
  pump();
});
`;

/**
 * The same sender in Python, used when python3 is on PATH: a plain send()
 * loop costs about half of what a dgram.send does, so the sender is less
 * often what limits the read figures.
 */
const SENDER_PY = `
import socket, sys, time
dst, size, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((dst, 9))
buf = b'a' * size
sent = 0
end = time.monotonic() + secs
while time.monotonic() < end:
    for _ in range(256):
        try:
            s.send(buf)
            sent += 1
        except OSError:
            pass
print(sent)
`;

function senderArgv(): string[] {
  const py = spawnSync('python3', ['-c', 'pass'], { stdio: 'ignore' });
  return py.status === 0 ? ['python3', '-c', SENDER_PY] : [process.execPath, '-e', SENDER];
}

/** Receiver: counts datagrams; prints 'ready' once bound and the count on SIGTERM. */
const RECEIVER = `
const s = require('node:dgram').createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
let n = 0;
s.on('message', () => { n++; });
process.on('SIGTERM', () => { console.log(n); process.exit(0); });
s.bind(Number(process.argv[2]), process.argv[1], () => console.log('ready'));
`;

interface Row {
  case: string;
  size: number;
  packets: number;
  seconds: number;
  meanPerEvent: number;
  maxPerEvent: number;
  meanPerBatch: number;
  other: string;
  gcs: number;
  /** CPU time of this Node process (user + system, incl. the syscalls) over wall time. */
  cpu: number;
}

function cpuSince(start: NodeJS.CpuUsage, wallMs: number): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / wallMs;
}

const gcTotal = (c: GcCounts): number => c.scavenges + c.majorGcs;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ifaceStats(sandbox: NetnsSandbox, ns: string, dev: string) {
  const out = await sandbox.run(ns, ['ip', '-s', '-j', 'link', 'show', 'dev', dev]);
  const s = (JSON.parse(out) as { stats64: { rx: { packets: number }; tx: { packets: number; dropped: number } } }[])[0]!.stats64;
  return { rx: s.rx.packets, txDropped: s.tx.dropped };
}

async function readCase(tun: NativeTun, sandbox: NetnsSandbox, ns: string, size: number): Promise<Row> {
  const ring = new PacketRing({ slots: 1024 });
  const batch = new SlotBatch(BATCH);
  let events = 0;
  let total = 0;
  let maxPerEvent = 0;
  let first = 0;
  let last = 0;
  const batches0 = tun.stats.readBatches;
  tun.onReadable(() => {
    let n = 0;
    for (let round = 0; round < EVENT_BUDGET; round++) {
      batch.count = 0;
      const got = tun.readBatch(ring, batch, BATCH);
      n += got;
      ring.releaseBatch(batch.slots, batch.count);
      if (got < BATCH) break; // EAGAIN: the queue is empty
    }
    if (n === 0) return;
    events++;
    total += n;
    if (n > maxPerEvent) maxPerEvent = n;
    last = performance.now();
    if (first === 0) first = last;
  });
  const before = await ifaceStats(sandbox, ns, tun.name);
  const gcs = new GcRecorder();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const senderCmd = senderArgv();
  const sender = sandbox.spawn(ns, [...senderCmd, PEER, String(size - 28), String(SECONDS)]);
  await sender.exited;
  await sleep(200); // let the last packets drain
  tun.onReadable(null);
  const cpu = cpuSince(cpu0, performance.now() - wall0);
  const after = await ifaceStats(sandbox, ns, tun.name);
  const sent = Number(sender.stdout().trim());
  return {
    case: 'read',
    size,
    packets: total,
    seconds: (last - first) / 1000,
    meanPerEvent: events > 0 ? total / events : 0,
    maxPerEvent,
    meanPerBatch: total / Math.max(1, tun.stats.readBatches - batches0),
    other: `sent ${sent} by ${senderCmd[0] === 'python3' ? 'python' : 'node'}, kernel drop ${after.txDropped - before.txDropped}`,
    gcs: gcTotal(await gcs.stop()),
    cpu,
  };
}

/** A UDP/IPv4 packet of `size` bytes from PEER to LOCAL:RECV_PORT with a valid IP header checksum (UDP checksum 0: none). */
function fillUdp(ring: PacketRing, slot: number, size: number, sport: number): void {
  const p = udpDatagram({ src: PEER, dst: LOCAL, id: 0, df: false, srcPort: sport, dstPort: RECV_PORT, payload: new Uint8Array(size - 28).fill(0x62) });
  ring.bytes.set(p, ring.offset[slot]!);
  ring.length[slot] = size;
}

async function writeCase(tun: NativeTun, sandbox: NetnsSandbox, ns: string, size: number): Promise<Row> {
  const receiver = sandbox.spawn(ns, [process.execPath, '-e', RECEIVER, LOCAL, String(RECV_PORT)]);
  await receiver.waitFor('ready', 5000);
  const ring = new PacketRing({ slots: BATCH });
  const slots = new Int32Array(BATCH);
  for (let i = 0; i < BATCH; i++) {
    slots[i] = ring.acquire();
    fillUdp(ring, slots[i]!, size, 40000 + i);
  }
  const before = await ifaceStats(sandbox, ns, tun.name);
  const errors0 = tun.stats.writeErrors;
  const gcs = new GcRecorder();
  let written = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await new Promise<void>((resolve) => {
    // One turn writes EVENT_BUDGET batches, then yields so the loop stays live.
    const turn = (): void => {
      for (let i = 0; i < EVENT_BUDGET; i++) written += tun.writeBatch(ring, slots, BATCH);
      if (performance.now() < end) setImmediate(turn);
      else resolve();
    };
    turn();
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSince(cpu0, seconds * 1000);
  const gcCount = gcTotal(await gcs.stop());
  await sleep(300);
  receiver.child.kill('SIGTERM');
  await receiver.exited;
  const after = await ifaceStats(sandbox, ns, tun.name);
  return {
    case: 'write',
    size,
    packets: written,
    seconds,
    meanPerEvent: BATCH * EVENT_BUDGET,
    maxPerEvent: BATCH * EVENT_BUDGET,
    meanPerBatch: BATCH,
    other: `kernel rx ${after.rx - before.rx}, delivered ${Number(receiver.stdout().trim().split('\n').pop())}, errors ${tun.stats.writeErrors - errors0}`,
    gcs: gcCount,
    cpu,
  };
}

function printTable(rows: Row[]): void {
  const header = ['case', 'size', 'packets', 'pps', 'Mbit/s', 'per event mean/max', 'per batch', 'node CPU', 'GCs', 'notes'];
  const lines = rows.map((r) => {
    const pps = r.seconds > 0 ? r.packets / r.seconds : 0;
    return [
      r.case,
      `${r.size} B`,
      String(r.packets),
      Math.round(pps).toLocaleString('en-US'),
      ((pps * r.size * 8) / 1e6).toFixed(0),
      `${r.meanPerEvent.toFixed(1)} / ${r.maxPerEvent}`,
      r.meanPerBatch.toFixed(1),
      `${Math.round(r.cpu * 100)}%`,
      String(r.gcs),
      r.other,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i >= 1 && i <= 8 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('tun-bench needs root (it creates a network namespace and a TUN device): run it with sudo');
    process.exitCode = 1;
    return;
  }
  const sandbox = new NetnsSandbox();
  let tun: NativeTun | undefined;
  const cleanup = async () => {
    tun?.close();
    await sandbox.destroy();
  };
  process.once('SIGINT', () => {
    void cleanup().finally(() => process.exit(130));
  });
  try {
    const ns = await sandbox.create();
    await sandbox.run(ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    tun = openTun({ name: `wtb${process.pid}`.slice(0, 15), maxBatch: BATCH });
    await sandbox.moveLink(tun.name, ns);
    const link = new Link(tun.name, { netns: ns });
    await link.addAddress(`${LOCAL}/24`);
    await link.setUp();
    console.log(`weft TUN bench: node ${process.version}, Linux ${release()}, ${SECONDS} s per case, batches of ${BATCH}\n`);
    const rows: Row[] = [];
    for (const size of SIZES) rows.push(await readCase(tun, sandbox, ns, size));
    for (const size of SIZES) rows.push(await writeCase(tun, sandbox, ns, size));
    printTable(rows);
  } finally {
    await cleanup();
  }
}

await main();
