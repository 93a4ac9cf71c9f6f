/**
 * What real clusters do to a WireGuard node: a peer restarts (losing every
 * session) while the other side keeps sending, and strangers who know the
 * public key flood it with initiations. Two backends on the in-memory
 * network, a hand-driven clock and hand-driven ticks.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { Received } from '../../../src/dataplane/encapsulation.ts';
import { generatePrivateKey, publicKey } from '../../../src/crypto/x25519.ts';
import { MemoryNetwork } from '../../../src/transport/memory-transport.ts';
import type { MemoryTransport } from '../../../src/transport/memory-transport.ts';
import { parseCidr } from '../../../src/wire/addr.ts';
import { CookieGenerator } from '../../../src/wireguard/cookie.ts';
import { COOKIE_REPLIES_PER_TICK, HANDSHAKES_PER_TICK_BEFORE_LOAD } from '../../../src/wireguard/handshake-load.ts';
import { INIT_LEN, MessageType } from '../../../src/wireguard/messages.ts';
import { wireguardDataplane } from '../../helpers/dataplanes.ts';
import type { WireguardDataplane } from '../../helpers/dataplanes.ts';
import { udpPacket } from '../../helpers/packets.ts';
import { mulberry32 } from '../../helpers/random.ts';

const TICK = 100;
const A_ADDR = '192.0.2.1';
const B_ADDR = '192.0.2.2';
const A_NET = parseCidr('10.244.1.0/24');
const B_NET = parseCidr('10.244.2.0/24');

interface Side {
  ring: PacketRing;
  t: MemoryTransport;
  wg: WireguardDataplane;
  delivered: number[];
}

let clock = 0;
let net: MemoryNetwork;
let privA: Uint8Array;
let privB: Uint8Array;

function side(address: string, priv: Uint8Array): Side {
  const ring = new PacketRing({ slots: 256 });
  const t = net.attach(ring, address, 51820);
  const wg = wireguardDataplane({ ring, transport: t, privateKey: priv, mtu: 1420, now: () => clock, wallNow: () => 1_700_000_000_000 + clock });
  const s: Side = { ring, t, wg, delivered: [] };
  t.onReceive((slot, from, port) => {
    if (wg.receive(slot, from, port) === Received.Deliver) {
      s.delivered.push(ring.packetOf(slot).at(-1)!);
      ring.release(slot);
    }
  });
  return s;
}

/** A fresh process for A or B: same key, no sessions. `knowsEndpoint` false models a peer configured without one. */
function start(which: 'a' | 'b', knowsEndpoint = true): Side {
  const s = which === 'a' ? side(A_ADDR, privA) : side(B_ADDR, privB);
  const peerName = which === 'a' ? 'b' : 'a';
  const peerAddr = which === 'a' ? B_ADDR : A_ADDR;
  s.wg.addPeer({
    name: peerName,
    ...(knowsEndpoint ? { endpoint: { address: peerAddr, port: 51820 } } : {}),
    subnets: [which === 'a' ? B_NET : A_NET],
    publicKey: publicKey(which === 'a' ? privB : privA),
  });
  return s;
}

/** Let deliveries (microtasks) and deferred handshakes (setImmediate turns, under load) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
  }
}

let seq = 0;
/** One packet from `from` to the other side's pod, numbered so deliveries can be told apart. */
function send(from: Side, fromA: boolean): number {
  const n = seq++ & 0xff;
  const p = fromA ? udpPacket('10.244.1.5', '10.244.2.7', [n]) : udpPacket('10.244.2.7', '10.244.1.5', [n]);
  const slot = from.ring.acquire();
  from.ring.bytes.set(p, from.ring.offset[slot]!);
  from.ring.length[slot] = p.length;
  from.wg.send(slot);
  return n;
}

/** Advance one tick on every side given. */
async function tick(...sides: Side[]): Promise<void> {
  clock += TICK;
  for (const s of sides) s.wg.wireguard.tick();
  await settle();
}

/**
 * Send one packet per tick from `sender` (and back from `other` when `both`)
 * until one reaches `receiver` after `since` packets, or `maxTicks` pass;
 * returns the ticks it took.
 */
async function ticksUntilDelivered(sender: Side, receiver: Side, senderIsA: boolean, maxTicks: number, both?: Side): Promise<number> {
  const before = receiver.delivered.length;
  for (let t = 1; t <= maxTicks; t++) {
    send(sender, senderIsA);
    if (both) send(both, !senderIsA);
    await tick(sender, receiver);
    if (receiver.delivered.length > before) return t;
  }
  return Infinity;
}

beforeEach(async () => {
  clock = 1000;
  seq = 0;
  net = new MemoryNetwork();
  privA = generatePrivateKey();
  privB = generatePrivateKey();
});

async function established(): Promise<{ a: Side; b: Side }> {
  // Both run past their start-up window, so neither handshakes ahead of traffic.
  const a = start('a');
  const b = start('b');
  a.wg.wireguard.peer('b')!.handshakeWanted = false;
  b.wg.wireguard.peer('a')!.handshakeWanted = false;
  send(a, true);
  await settle();
  send(b, false);
  await settle();
  expect(a.delivered).toHaveLength(1);
  expect(b.delivered).toHaveLength(1);
  return { a, b };
}

async function restart(s: Side, which: 'a' | 'b', knowsEndpoint: boolean): Promise<Side> {
  s.wg.wireguard.stop();
  await s.t.close();
  clock += 1000; // a restart takes time; the new process's TAI64N timestamps are later
  return start(which, knowsEndpoint);
}

describe('a WireGuard peer restarts while the other side keeps sending', () => {
  it('restarted responder that cannot handshake itself: the sender re-handshakes KEEPALIVE + REKEY timeouts after its first unanswered packet, not at REKEY_AFTER_TIME', async () => {
    const { a, b } = await established();
    const b2 = await restart(b, 'b', false);
    await tick(a); // A's coarse clock catches up with the restart
    // One packet per tick, one way: before the fix the "heard nothing" clock restarted on every send
    // and A waited for REKEY_AFTER_TIME (120 s) or REJECT_AFTER_TIME (180 s).
    const ticks = await ticksUntilDelivered(a, b2, true, 400);
    expect(ticks * TICK).toBeGreaterThanOrEqual(14_900);
    expect(ticks * TICK).toBeLessThanOrEqual(15_500);
    expect(b2.wg.drops().unknown_index).toBeGreaterThan(100);
    expect(a.wg.wireguard.state.handshakes.initiationsSent).toBe(2);
  });

  it('restarted responder that knows its peer: it handshakes at start and traffic resumes in the next tick', async () => {
    const { a, b } = await established();
    const b2 = await restart(b, 'b', true);
    expect(b2.wg.wireguard.peer('a')!.handshakeWanted).toBe(true);
    const ticks = await ticksUntilDelivered(a, b2, true, 400);
    expect(ticks).toBeLessThanOrEqual(2);
    expect(b2.wg.wireguard.state.handshakes.initiationsSent).toBe(1);
  });

  it('restarted responder, traffic both ways: both directions resume within two ticks', async () => {
    const { a, b } = await established();
    const b2 = await restart(b, 'b', true);
    const aBefore = a.delivered.length;
    const ticks = await ticksUntilDelivered(a, b2, true, 400, b2);
    expect(ticks).toBeLessThanOrEqual(2);
    send(b2, false);
    await settle();
    expect(a.delivered.length).toBeGreaterThan(aBefore);
  });

  it('restarted initiator (the sender itself restarts): its first packet is staged, handshaken and delivered', async () => {
    const { a, b } = await established();
    const a2 = await restart(a, 'a', true);
    const ticks = await ticksUntilDelivered(a2, b, true, 400, b);
    expect(ticks).toBe(1);
    // B's answers reach the new A without waiting for a timer either.
    const before = a2.delivered.length;
    send(b, false);
    await settle();
    expect(a2.delivered.length).toBe(before + 1);
  });

  it('a start-up handshake sent before the peer listened does not hold the first packet for REKEY_TIMEOUT', async () => {
    const a = start('a');
    await tick(a); // the eager initiation goes to a port nobody listens on yet
    expect(a.wg.wireguard.state.handshakes.initiationsSent).toBe(1);
    const b = start('b');
    b.wg.wireguard.peer('a')!.handshakeWanted = false;
    send(a, true); // staged; the attempt in flight was ahead of traffic: a fresh one goes now
    await settle();
    expect(a.wg.wireguard.state.handshakes.initiationsSent).toBe(2);
    expect(b.delivered).toHaveLength(1);
  });

  it('only the first packet restarts a start-up handshake: later ones wait for its retries', async () => {
    const a = start('a');
    await tick(a);
    send(a, true);
    send(a, true);
    send(a, true);
    await settle();
    expect(a.wg.wireguard.state.handshakes.initiationsSent).toBe(2);
    expect(a.wg.wireguard.peer('b')!.stagedCount).toBe(3);
  });

  it('eager handshakes at start are spread: at most EAGER_HANDSHAKES_PER_TICK per tick', async () => {
    const node = side(A_ADDR, privA);
    for (let i = 0; i < 100; i++) {
      node.wg.addPeer({ name: `p${i}`, endpoint: { address: `198.51.100.${i + 1}`, port: 51820 }, subnets: [parseCidr(`10.245.${i}.0/24`)], publicKey: publicKey(generatePrivateKey()) });
    }
    await tick(node);
    expect(node.wg.wireguard.state.handshakes.initiationsSent).toBe(32);
    await tick(node);
    await tick(node);
    await tick(node);
    expect(node.wg.wireguard.state.handshakes.initiationsSent).toBe(100);
  });
});

/** An initiation from nobody B knows, with a valid MAC1 (anyone with B's public key can make one). */
function forgedInitiation(random: () => number, bPub: Uint8Array): Uint8Array {
  const m = new Uint8Array(INIT_LEN);
  for (let i = 0; i < m.length; i++) m[i] = Math.floor(random() * 256);
  m[0] = MessageType.Initiation;
  m[1] = m[2] = m[3] = 0;
  new CookieGenerator(bPub).addMacs(m, clock);
  return m;
}

function deliverRaw(s: Side, msg: Uint8Array, fromAddress: string, fromPort: number): void {
  const slot = s.ring.acquire();
  s.ring.bytes.set(msg, s.ring.offset[slot]!);
  s.ring.length[slot] = msg.length;
  s.wg.receive(slot, fromAddress, fromPort);
}

describe('a flood of forged initiations with valid MAC1', () => {
  it('engages cookies: after the threshold no forged initiation costs an X25519, replies stay bounded, and an honest peer still gets through', async () => {
    const a = start('a');
    const b = start('b');
    b.wg.wireguard.peer('a')!.handshakeWanted = false;
    const random = mulberry32(7);
    const forged = Array.from({ length: 1000 }, () => forgedInitiation(random, b.wg.wireguard.publicKey));
    let sent = 0;
    const flood = (perTick: number, spoofedSources: boolean) => {
      for (let i = 0; i < perTick; i++) {
        const src = spoofedSources ? `203.0.113.${i & 0xff}` : '203.0.113.66';
        deliverRaw(b, forged[sent++ % forged.length]!, src, 40000 + (i >> 8));
      }
    };
    // 1000 per 100 ms tick = 10,000 per second, from 256 spoofed sources, for 3 seconds.
    for (let t = 0; t < 30; t++) {
      flood(1000, true);
      await tick(b);
    }
    const h = b.wg.wireguard.state.handshakes;
    // Only the messages before the load was detected reached the DH; after that, none did.
    expect(h.initiationsProcessed).toBeLessThanOrEqual(HANDSHAKES_PER_TICK_BEFORE_LOAD + 1);
    expect(h.cookieRepliesSent).toBeGreaterThan(0);
    expect(h.cookieRepliesSent).toBeLessThanOrEqual(31 * COOKIE_REPLIES_PER_TICK); // 30 ticks, and the window before the first
    expect(b.wg.drops().under_load).toBeGreaterThan(25_000);
    // Random ephemeral keys: the static key never decrypts, so each processed one failed after its first DH.
    const d = b.wg.drops();
    expect(d.handshake_decrypt! + d.bad_key!).toBe(h.initiationsProcessed);
    // Reflected bytes (64-byte cookie replies) stay below what the flood sent (148 bytes each).
    expect(h.cookieRepliesSent * 64).toBeLessThan(sent * 148);
    // The honest peer, under the same flood: its first initiation earns a cookie (or is rate limited),
    // its retries carry MAC2 and complete.
    send(a, true);
    let ticks = 0;
    while (a.wg.wireguard.state.handshakes.completed === 0 && ticks < 300) {
      flood(1000, true);
      await tick(a, b);
      ticks++;
    }
    expect(a.wg.wireguard.state.handshakes.completed).toBe(1);
    expect(ticks * TICK).toBeLessThanOrEqual(11_000); // at most two REKEY_TIMEOUT retries
    expect(b.delivered).toHaveLength(1);
    expect(b.ring.free).toBe(256);
  });

  it('one source flooding is held to its token bucket: 5 answers at once, then 20 per second', async () => {
    const b = start('b');
    b.wg.wireguard.peer('a')!.handshakeWanted = false;
    const random = mulberry32(9);
    const forged = Array.from({ length: 200 }, () => forgedInitiation(random, b.wg.wireguard.publicKey));
    b.wg.wireguard.handshaker.load.holdFor(clock, 60_000);
    for (const m of forged) deliverRaw(b, m, '203.0.113.9', 40000);
    await settle();
    expect(b.wg.wireguard.state.handshakes.cookieRepliesSent).toBe(5);
    expect(b.wg.drops().rate_limited).toBe(195);
    expect(b.wg.wireguard.state.handshakes.initiationsProcessed).toBe(0);
    for (let t = 0; t < 10; t++) {
      await tick(b);
      for (let i = 0; i < 20; i++) deliverRaw(b, forged[i]!, '203.0.113.9', 40000);
      await settle();
    }
    // One more second: 20 tokens (2 per tick), less one lost to rounding at most.
    expect(b.wg.wireguard.state.handshakes.cookieRepliesSent).toBeGreaterThanOrEqual(5 + 19);
    expect(b.wg.wireguard.state.handshakes.cookieRepliesSent).toBeLessThanOrEqual(5 + 20);
  });
});
