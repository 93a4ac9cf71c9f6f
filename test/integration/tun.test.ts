// A real TUN device on the real kernel. The device is opened here (so in this
// process's namespace), then moved into a namespace the test creates; the fd
// stays attached. Everything the kernel sends goes to addresses inside that
// namespace's TUN subnet, and nothing is configured in the root namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PacketRing, SlotBatch } from '../../src/buf/packet-ring.ts';
import { isWeftError } from '../../src/errors.ts';
import { Link } from '../../src/tun/link.ts';
import { openTun } from '../../src/tun/native-tun.ts';
import type { NativeTun } from '../../src/tun/native-tun.ts';
import { formatIpv4 } from '../../src/wire/addr.ts';
import { internetChecksum, ipv4Dst, ipv4Src, writeIpv4HeaderChecksum } from '../../src/wire/ip.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { udpDatagram } from '../helpers/packets.ts';

const root = requireRoot();

const LOCAL = '10.203.0.1'; // the kernel's address on the TUN, inside the namespace
const PEER = '10.203.0.2'; // "the other side": packets to it arrive at weft
const ROUTED = '10.203.8.9'; // reached through Link.addRoute('10.203.8.0/24')

// ---- packet helpers (test only; they allocate) -------------------------------

/** Turn the ICMP echo request at `off` into its reply, in place. */
function echoReplyInPlace(b: Uint8Array, off: number, len: number): void {
  const ihl = (b[off]! & 0x0f) * 4;
  for (let i = 0; i < 4; i++) {
    const t = b[off + 12 + i]!;
    b[off + 12 + i] = b[off + 16 + i]!;
    b[off + 16 + i] = t;
  }
  b[off + 8] = 64;
  writeIpv4HeaderChecksum(b, off);
  b[off + ihl] = 0; // type 0: echo reply
  b[off + ihl + 2] = 0;
  b[off + ihl + 3] = 0;
  const c = internetChecksum(b, off + ihl, len - ihl);
  b[off + ihl + 2] = c >> 8;
  b[off + ihl + 3] = c & 0xff;
}

/** A UDP/IPv4 packet with correct IP and UDP checksums. */
function udpPacket(src: string, dst: string, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  return udpDatagram({ src, dst, srcPort, dstPort, payload, id: 0x1234, df: false, checksum: 'valid' });
}

const isEchoRequest = (p: Uint8Array) => p[0] === 0x45 && p[9] === 1 && p[20] === 8;
const isUdpTo = (port: number) => (p: Uint8Array) => p[0]! >> 4 === 4 && p[9] === 17 && ((p[22]! << 8) | p[23]!) === port;

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `node -e` sender: one UDP datagram from inside the namespace. */
const SEND_UDP = `
const s = require('node:dgram').createSocket('udp4');
s.send(Buffer.from(process.argv[1], 'hex'), Number(process.argv[3]), process.argv[2], (e) => { if (e) throw e; s.close(); });
`;

/** `node -e` receiver: prints 'ready', then the first datagram it gets, then exits. */
const RECV_UDP = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => { console.log('got ' + m.toString('hex') + ' from ' + r.address + ':' + r.port); s.close(); });
s.bind(Number(process.argv[2]), process.argv[1], () => console.log('ready'));
`;

describe.skipIf(!root)('NativeTun on a real kernel', () => {
  const sandbox = new NetnsSandbox();
  const devName = `wti${process.pid}`.slice(0, 15);
  let ns = '';
  let tun: NativeTun | undefined;
  let link: Link | undefined;
  const ring = new PacketRing({ slots: 128 });
  const batch = new SlotBatch(32);
  const replies = new Int32Array(32);
  /** Copies of every packet the handler read. */
  let received: Uint8Array[] = [];
  let answerPings = false;

  // The loop a router would run: read batches, answer echo requests in place.
  function onReadable(): void {
    for (let round = 0; round < 8; round++) {
      batch.clear();
      const n = tun!.readBatch(ring, batch, batch.max);
      if (n === 0) return;
      let nReplies = 0;
      for (let i = 0; i < n; i++) {
        const slot = batch.slots[i]!;
        const packet = ring.packetOf(slot);
        received.push(packet.slice());
        if (answerPings && isEchoRequest(packet)) {
          echoReplyInPlace(ring.bytes, ring.offset[slot]!, ring.length[slot]!);
          replies[nReplies++] = slot;
        }
      }
      if (nReplies > 0) tun!.writeBatch(ring, replies, nReplies);
      ring.releaseBatch(batch.slots, batch.count);
    }
  }

  beforeAll(async () => {
    ns = await sandbox.create();
    // No IPv6 in the namespace: router solicitations and MLD reports would
    // otherwise show up on the TUN device among the packets the tests count.
    await sandbox.run(ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    tun = openTun({ name: devName });
    expect(tun.name).toBe(devName);
    await sandbox.moveLink(devName, ns);
    link = new Link(devName, { netns: ns });
    await link.setMtu(1500);
    await link.addAddress(`${LOCAL}/24`);
    await link.setUp();
    await link.addRoute('10.203.8.0/24');
    tun.onReadable(onReadable);
  });

  afterAll(async () => {
    tun?.close();
    tun?.close(); // idempotent
    await link?.close().catch(() => {}); // the device went with its fd; nothing should be left
    await sandbox.destroy();
  });

  it('reads ICMP echo requests from the kernel and writes replies that make ping succeed', async () => {
    received = [];
    answerPings = true;
    const writesBefore = tun!.stats.writePackets;
    const r = await sandbox.exec(ns, ['ping', '-c', '3', '-i', '0.2', '-W', '1', PEER], { timeoutMs: 15_000 });
    answerPings = false;
    expect(r.stdout).toMatch(/ 0% packet loss/u);
    expect(r.code).toBe(0);
    const requests = received.filter(isEchoRequest);
    expect(requests.length).toBe(3);
    for (const p of requests) {
      expect(p[0]! >> 4).toBe(4); // version
      expect(p[0]! & 0x0f).toBe(5); // IHL
      expect((p[2]! << 8) | p[3]!).toBe(p.length); // total length
      expect(p[9]).toBe(1); // ICMP
      expect(formatIpv4(ipv4Src(p, 0))).toBe(LOCAL);
      expect(formatIpv4(ipv4Dst(p, 0))).toBe(PEER);
      expect(p[20]).toBe(8); // echo request
      expect(internetChecksum(p, 0, 20)).toBe(0); // the kernel's header checksum verifies
    }
    expect(tun!.stats.writePackets - writesBefore).toBe(3);
    expect(tun!.stats.writeErrors).toBe(0);
  });

  it('reads a UDP datagram with its exact payload, also through the added route', async () => {
    received = [];
    const payload = Buffer.from('weft tun integration \u2713 0123456789');
    for (const [dst, port] of [[PEER, 5555], [ROUTED, 5556]] as const) {
      await sandbox.run(ns, [process.execPath, '-e', SEND_UDP, payload.toString('hex'), dst, String(port)]);
      await waitUntil(`the UDP datagram to ${dst}:${port}`, () => received.some(isUdpTo(port)));
      const p = received.find(isUdpTo(port))!;
      expect(p[0]).toBe(0x45);
      expect(p[9]).toBe(17);
      expect(formatIpv4(ipv4Src(p, 0))).toBe(LOCAL);
      expect(formatIpv4(ipv4Dst(p, 0))).toBe(dst);
      expect((p[24]! << 8) | p[25]!).toBe(8 + payload.length); // UDP length
      expect(p.length).toBe(28 + payload.length);
      expect(Buffer.from(p.subarray(28)).equals(payload)).toBe(true);
    }
    expect(tun!.stats.readBatches).toBeGreaterThan(0);
    expect(tun!.stats.readBytes).toBeGreaterThan(0);
  });

  it('writes a UDP datagram that a socket inside the namespace receives', async () => {
    const receiver = sandbox.spawn(ns, [process.execPath, '-e', RECV_UDP, LOCAL, '6001']);
    await receiver.waitFor('ready', 5000);
    const payload = Buffer.from('from weft to the kernel');
    const slot = ring.acquire();
    const pkt = udpPacket(PEER, LOCAL, 40000, 6001, payload);
    ring.bytes.set(pkt, ring.offset[slot]!);
    ring.length[slot] = pkt.length;
    const one = new Int32Array([slot]);
    expect(tun!.writeBatch(ring, one, 1)).toBe(1);
    ring.release(slot);
    await receiver.waitFor(/got /u, 5000);
    expect(receiver.stdout()).toContain(`got ${payload.toString('hex')} from ${PEER}:40000`);
    await receiver.exited;
  });

  it('counts a packet the kernel refuses (not IPv4/IPv6) as a write error and carries on', () => {
    const slots = new Int32Array(2);
    const bad = ring.acquire();
    ring.bytes.fill(0, ring.offset[bad]!, ring.offset[bad]! + 40); // version nibble 0
    ring.length[bad] = 40;
    const good = ring.acquire();
    const pkt = udpPacket(PEER, LOCAL, 40001, 6999, new Uint8Array([1, 2, 3]));
    ring.bytes.set(pkt, ring.offset[good]!);
    ring.length[good] = pkt.length;
    slots[0] = bad;
    slots[1] = good;
    const before = { ...tun!.stats };
    expect(tun!.writeBatch(ring, slots, 2)).toBe(1);
    expect(tun!.stats.writeErrors - before.writeErrors).toBe(1);
    expect(tun!.lastWriteErrno).toBe(22); // EINVAL
    expect(tun!.stats.writeBytes - before.writeBytes).toBe(pkt.length);
    ring.release(bad);
    ring.release(good);
  });

  it('drops and counts a packet when the ring is full, and one larger than a slot', async () => {
    tun!.onReadable(null); // drive reads by hand
    try {
      const tiny = new PacketRing({ slots: 2, capacity: 576 });
      const held = [tiny.acquire(), tiny.acquire()];
      const b = new SlotBatch(4);
      const payload = Buffer.from('ring full').toString('hex');
      await sandbox.run(ns, [process.execPath, '-e', SEND_UDP, payload, PEER, '5557']);
      const dropped = tun!.stats.droppedRingFull;
      await waitUntil('a ring-full drop', () => (tun!.readBatch(tiny, b, 4), tun!.stats.droppedRingFull > dropped));
      expect(b.count).toBe(0);
      for (const s of held) tiny.release(s);

      // 1000 bytes of ICMP data: a 1028-byte packet, above the 576-byte slots.
      const tooBig = tun!.stats.droppedTooBig;
      const ping = sandbox.exec(ns, ['ping', '-c', '1', '-W', '1', '-s', '1000', PEER], { timeoutMs: 10_000 });
      await waitUntil('a too-big drop', () => (tun!.readBatch(tiny, b, 4), tun!.stats.droppedTooBig > tooBig));
      expect(tiny.free).toBe(2 - b.count);
      tiny.releaseBatch(b.slots, b.count);
      await ping;
    } finally {
      received = [];
      tun!.onReadable(onReadable);
    }
  });

  it('maps open failures to WeftError codes', () => {
    const code = (fn: () => unknown): { code?: string; errno?: string | undefined } => {
      try {
        fn();
      } catch (err) {
        if (isWeftError(err)) return { code: err.code, errno: err.errno };
        throw err;
      }
      return {};
    };
    expect(code(() => openTun({ name: 'w'.repeat(16) }))).toEqual({ code: 'TUN_NAME_TOO_LONG', errno: undefined });
    // 'lo' exists and is not a TUN device: the kernel answers EINVAL.
    expect(code(() => openTun({ name: 'lo' }))).toEqual({ code: 'TUN_BUSY', errno: 'EINVAL' });

    // A second device, briefly, in this namespace: no address, no route.
    const second = openTun({ name: `${devName.slice(0, 13)}b` });
    try {
      // A single-queue device takes one fd: the kernel answers EBUSY.
      expect(code(() => openTun({ name: second.name }))).toEqual({ code: 'TUN_BUSY', errno: 'EBUSY' });
      // Asking for multi-queue on a single-queue device: EINVAL.
      expect(code(() => openTun({ name: second.name, multiQueue: true }))).toEqual({ code: 'TUN_BUSY', errno: 'EINVAL' });
    } finally {
      second.close();
    }

    // A multi-queue device accepts a second queue.
    const q1 = openTun({ name: `${devName.slice(0, 13)}m`, multiQueue: true });
    try {
      const q2 = openTun({ name: q1.name, multiQueue: true });
      expect(q2.name).toBe(q1.name);
      q2.close();
    } finally {
      q1.close();
    }
  });

  it('close() stops the poll, closes the fd and removes the device', async () => {
    const t = tun!;
    t.close();
    expect(t.closed).toBe(true);
    expect(() => t.readBatch(ring, batch, 1)).toThrow(/after close/u);
    const r = await sandbox.exec(ns, ['ip', 'link', 'show', 'dev', devName]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/does not exist/u);
    expect(ring.free).toBe(ring.slotCount);
  });
});
