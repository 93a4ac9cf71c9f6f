// TUN offloads against the real kernel: two TUN devices, each moved into a
// namespace of its own, joined by a relay in this process (what one device
// reads, the other writes). A TCP stream from one namespace to the other
// then crosses weft's segmentation (reads of kernel super-packets) and
// coalescing (GSO writes) with the kernel's TCP on both ends as the judge:
// the bytes must arrive whole (sha256), and where a device writes without
// offload, the kernel checks every segment's checksum itself and its
// InCsumErrors counter must stay 0.
import { afterEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { PacketRing, SlotBatch } from '../../src/buf/packet-ring.ts';
import { Link } from '../../src/tun/link.ts';
import { openTun } from '../../src/tun/native-tun.ts';
import { TUN_STAGING_BYTES } from '../../src/tun/tun-offload.ts';
import type { NativeTun } from '../../src/tun/native-tun.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';

requireRoot();

const SINK = fileURLToPath(new URL('../helpers/tcp-sink.mjs', import.meta.url));
const SOURCE = fileURLToPath(new URL('../helpers/tcp-source.mjs', import.meta.url));
const BYTES = 16 << 20;

interface Side {
  ns: string;
  tun: NativeTun;
  link: Link;
}

/** Move everything one device reads to the other device, in batches, until stopped. */
function relay(ring: PacketRing, from: NativeTun, to: NativeTun): void {
  const batch = new SlotBatch(128);
  from.onReadable(() => {
    for (let round = 0; round < 8; round++) {
      batch.count = 0;
      const n = from.readBatch(ring, batch, batch.max);
      if (n === 0) return;
      to.writeBatch(ring, batch.slots, n);
      ring.releaseBatch(batch.slots, n);
    }
  });
}

/** The namespace's TCP InCsumErrors counter (/proc/net/snmp is per namespace). */
async function tcpCsumErrors(sandbox: NetnsSandbox, ns: string): Promise<number> {
  const snmp = await sandbox.run(ns, ['cat', '/proc/net/snmp']);
  const lines = snmp.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0]!.split(/\s+/u);
  const values = lines[1]!.split(/\s+/u);
  return Number(values[names.indexOf('InCsumErrors')]);
}

describe('TUN offload (virtio-net header, TSO reads, GSO writes) against the kernel', () => {
  const sandbox = new NetnsSandbox();
  const sides: Side[] = [];

  afterEach(async () => {
    const closing = sides.splice(0);
    // Stop every relay before closing any device: a relay reading from a device
    // still open would otherwise write into one already closed (TUN_CLOSED,
    // thrown from a poll callback, which failed whole runs of the suite).
    for (const s of closing) if (!s.tun.closed) s.tun.onReadable(null);
    for (const s of closing) {
      s.tun.close();
      await s.link.close().catch(() => {});
    }
    await sandbox.destroy();
  });

  async function side(ring: PacketRing, name: string, offload: boolean, local: [string, string], remote: [string, string]): Promise<Side> {
    const ns = await sandbox.create();
    const tun = openTun({ name, maxBatch: 128, ...(offload ? { offload: { ring, verifyChecksums: true } } : {}) });
    await sandbox.moveLink(tun.name, ns);
    // No duplicate address detection: the IPv6 address is usable at once.
    await sandbox.run(ns, ['sysctl', '-q', '-w', `net.ipv6.conf.${tun.name}.accept_dad=0`]);
    const link = new Link(tun.name, { netns: ns });
    const s = { ns, tun, link };
    sides.push(s);
    await link.setMtu(1420);
    await link.addAddress(`${local[0]}/32`);
    await link.addAddress(`${local[1]}/128`);
    await link.setUp();
    await link.addRoute(`${remote[0]}/32`);
    await link.addRoute(`${remote[1]}/128`);
    return s;
  }

  async function stream(dst: Side, src: Side, host: string, port: number): Promise<void> {
    const sink = sandbox.spawn(dst.ns, [process.execPath, SINK, String(port)]);
    await sink.waitFor('listening', 10_000);
    const source = await sandbox.run(src.ns, [process.execPath, SOURCE, host, String(port), String(BYTES)], { timeoutMs: 60_000 });
    await sink.waitFor(/sha256/u, 30_000);
    const sent = JSON.parse(source.trim()) as { bytes: number; sha256: string };
    const got = JSON.parse(sink.stdout().split('\n').find((l) => l.includes('sha256'))!) as { bytes: number; sha256: string };
    expect(got).toEqual(sent);
    expect(got.bytes).toBe(BYTES);
  }

  // Staging in the ring (copies by memmove) or, when the ring has no room, in a buffer of the device's own.
  const variants = [
    { name: 'both offload, staged in the ring', a: true, b: true, staging: 2 * TUN_STAGING_BYTES },
    { name: 'segmenting reader, plain writer (the kernel checks every segment)', a: true, b: false, staging: 0 },
    { name: 'plain reader, coalescing writer', a: false, b: true, staging: 0 },
  ];
  for (const v of variants) {
    it(`carries 16 MiB of TCP over IPv4 and IPv6 byte for byte: ${v.name}`, { timeout: 120_000 }, async () => {
      const ring = new PacketRing({ slots: 2048, staging: v.staging });
      const id = String(process.pid % 10000);
      const a = await side(ring, `wofa${id}`, v.a, ['10.205.0.1', 'fd05::1'], ['10.205.0.2', 'fd05::2']);
      const b = await side(ring, `wofb${id}`, v.b, ['10.205.0.2', 'fd05::2'], ['10.205.0.1', 'fd05::1']);
      relay(ring, a.tun, b.tun);
      relay(ring, b.tun, a.tun);
      await stream(b, a, '10.205.0.2', 5201);
      await stream(b, a, 'fd05::2', 5202);

      expect(await tcpCsumErrors(sandbox, b.ns)).toBe(0);
      expect(await tcpCsumErrors(sandbox, a.ns)).toBe(0);
      for (const s of [a, b]) {
        expect(s.tun.stats.writeErrors).toBe(0);
        expect(s.tun.stats.droppedTooBig).toBe(0);
      }
      if (v.a) {
        const stats = a.tun.offloadStats!;
        expect(a.tun.offloadsEnabled).toBe(true);
        // The kernel handed over super-packets, and each became several segments.
        expect(stats.superPackets).toBeGreaterThan(0);
        expect(stats.segments).toBeGreaterThan(stats.superPackets);
        expect(Object.values(stats.drops).reduce((x, y) => x + y, 0)).toBe(0);
      }
      if (v.b) {
        const stats = b.tun.offloadStats!;
        // Segments of the stream were merged: fewer writes than packets.
        expect(stats.merged).toBeGreaterThan(0);
        expect(stats.writes).toBeLessThan(b.tun.stats.writePackets);
        expect(stats.checksumFailed).toBe(0);
      }
      expect(ring.free).toBe(ring.slotCount);
    });
  }

  it('a coalesced write forwarded on through a device without offloads reaches a third namespace with correct checksums', { timeout: 120_000 }, async () => {
    // The kernel does not check a CHECKSUM_PARTIAL packet it delivers
    // locally, so here the merged super-packets are forwarded out of a veth
    // with checksum and segmentation offload off: the kernel must cut them
    // up and finish each checksum from the field weft wrote, and the
    // receiving namespace checks every one.
    const ring = new PacketRing({ slots: 2048 });
    const id = String(process.pid % 10000);
    const a = await side(ring, `wofa${id}`, true, ['10.205.0.1', 'fd05::1'], ['10.205.0.2', 'fd05::2']);
    const b = await side(ring, `wofb${id}`, true, ['10.205.0.2', 'fd05::2'], ['10.205.0.1', 'fd05::1']);
    const c = await sandbox.create();
    await sandbox.veth(b.ns, 'fwd0', c, 'fwd1');
    await sandbox.run(b.ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    await sandbox.run(b.ns, ['ethtool', '-K', 'fwd0', 'tx', 'off', 'tso', 'off', 'gso', 'off']);
    await sandbox.run(b.ns, ['ip', 'address', 'add', '10.206.0.1/24', 'dev', 'fwd0']);
    await sandbox.run(b.ns, ['ip', 'link', 'set', 'fwd0', 'up']);
    await sandbox.run(c, ['ip', 'address', 'add', '10.206.0.2/24', 'dev', 'fwd1']);
    await sandbox.run(c, ['ip', 'link', 'set', 'fwd1', 'up']);
    await sandbox.run(c, ['ip', 'route', 'add', '10.205.0.0/24', 'via', '10.206.0.1']);
    await a.link.addRoute('10.206.0.0/24');
    relay(ring, a.tun, b.tun);
    relay(ring, b.tun, a.tun);
    await stream({ ...b, ns: c }, a, '10.206.0.2', 5203);
    expect(b.tun.offloadStats!.merged).toBeGreaterThan(0);
    expect(await tcpCsumErrors(sandbox, c)).toBe(0);
    expect(ring.free).toBe(ring.slotCount);
  });
});
