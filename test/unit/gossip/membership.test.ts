import { describe, expect, it } from 'vitest';
import type { Clock, TickHandle } from '../../../src/gossip/clock.ts';
import { nameHash } from '../../../src/gossip/anti-entropy.ts';
import { FactKind, GOSSIP_VERSION, MsgType, decodeFact, decodeMessage, encodeFact, encodeMessage } from '../../../src/gossip/codec.ts';
import type { ClaimKind, Fact, Message } from '../../../src/gossip/codec.ts';
import { signClaim } from '../../../src/gossip/claim.ts';
import { Keyring } from '../../../src/gossip/keyring.ts';
import { Membership, MemberState } from '../../../src/gossip/membership.ts';
import type { GossipPeer, MemberEvent } from '../../../src/gossip/membership.ts';
import { RecordFlag, decodeRecord, generateSigningKey, signRecord } from '../../../src/gossip/record.ts';
import type { PeerSpec } from '../../../src/dataplane/peer.ts';
import { formatCidr, parseCidr } from '../../../src/wire/addr.ts';
import { fields } from './helpers.ts';

class ManualClock implements Clock {
  t = 1000;
  fns: (() => void)[] = [];
  pending: (() => void)[] = [];
  now(): number {
    return this.t;
  }
  every(_ms: number, fn: () => void): TickHandle {
    this.fns.push(fn);
    return { cancel: () => (this.fns = this.fns.filter((f) => f !== fn)) };
  }
  advance(ms: number, step = 50): void {
    for (let x = 0; x < ms; x += step) {
      this.t += step;
      for (const f of this.fns) f();
      const p = this.pending;
      this.pending = [];
      for (const f of p) f();
    }
  }
}

const key = new Uint8Array(32).fill(5);
/** Datagrams for the node under test: stamped now (its wall clock is Date.now()) and addressed to it. */
const toSelf = () => ({ sentAt: Date.now(), to: nameHash('self') });

function setup() {
  const clock = new ManualClock();
  const autoAck = { on: false };
  const sent: { address: string; port: number; msg: Message }[] = [];
  const ring = new Keyring(key);
  let handler: (b: Uint8Array, a: string, p: number) => void = () => {};
  const transport = {
    send: (address: string, port: number, bytes: Uint8Array) => {
      const v = decodeMessage(bytes, ring);
      if (v.ok) sent.push({ address, port, msg: v.msg });
      // Everyone else answers every ping, so that only the injected suspicion is in play.
      if (v.ok && v.msg.type === MsgType.Ping && autoAck.on) {
        const ack = encodeMessage({ type: MsgType.Ack, from: v.msg.target, seq: v.msg.seq, facts: [] }, ring, toSelf());
        clock.pending.push(() => handler(ack, address, port));
      }
    },
    onMessage: (h: typeof handler) => (handler = h),
    close: () => {},
  };
  const me = generateSigningKey();
  const secretKey = me.secretKey;
  const m = new Membership({ clock, transport, keyring: ring, secretKey: me.secretKey, self: fields('self', { address: '192.0.2.1' }), random: () => 0.5 });
  const events: MemberEvent[] = [];
  m.on((e) => events.push(e));
  // From 192.0.2.99 unless said otherwise: an address no member has (unverified).
  const deliver = (msg: Message, from = '192.0.2.99'): void => handler(encodeMessage(msg, ring, toSelf()), from, 7946);
  const gossip = (...facts: Fact[]): void => deliver({ type: MsgType.Gossip, from: 'x', facts: facts.map(encodeFact) });
  return { secretKey, autoAck, clock, sent, m, events, deliver, gossip, handler: (b: Uint8Array) => handler(b, '192.0.2.99', 7946) };
}

/** A claim signed by the member `by` (claim.ts), as a fact to gossip. */
const claim = (kind: ClaimKind, name: string, incarnation: number, by: string, sk: Uint8Array): Fact => {
  const v = decodeFact(signClaim(kind, name, incarnation, by, sk));
  if (!v.ok) throw new Error('test claim does not decode');
  return v.fact;
};

const peer = (name: string, inc: number, sk: Uint8Array, over = {}): Fact => ({
  kind: FactKind.Alive,
  record: signRecord(fields(name, { address: '192.0.2.2', ...over }), inc, sk),
});

describe('Membership: records are self-signed and bound to their key', () => {
  it('rejects another key for a known name, a bad signature, and stale records, counting each', () => {
    const s = setup();
    const owner = generateSigningKey();
    const thief = generateSigningKey();
    s.gossip(peer('node-b', 1, owner.secretKey));
    expect(s.m.get('node-b')?.incarnation).toBe(1);
    s.gossip(peer('node-b', 99, thief.secretKey, { subnets: [parseCidr('10.244.99.0/24')] }));
    expect(s.m.drops.get('key-mismatch')).toBe(1);
    expect(s.m.get('node-b')?.incarnation).toBe(1);
    // Right key named, body altered after signing: the signature fails.
    const f = peer('node-b', 5, owner.secretKey) as { kind: 1; record: Uint8Array };
    f.record[90]! ^= 1;
    s.gossip(f);
    expect(s.m.drops.get('bad-signature')).toBe(1);
    s.gossip(peer('node-b', 3, owner.secretKey));
    s.gossip(peer('node-b', 2, owner.secretKey));
    expect(s.m.drops.get('stale')).toBe(1);
    expect(s.m.get('node-b')?.incarnation).toBe(3);
    // Nobody can sign a record under our own name without our key.
    s.gossip(peer('self', 50, thief.secretKey));
    expect(s.m.drops.get('key-mismatch')).toBe(2);
    expect(s.m.incarnation).toBe(0);
  });

  it('counts unauthenticated and malformed datagrams and never throws', () => {
    const s = setup();
    s.handler(new Keyring(new Uint8Array(32).fill(6)).seal(GOSSIP_VERSION, Uint8Array.of(5, 1, 0x61, 0)));
    s.handler(Uint8Array.of(7, 7, 7));
    s.handler(new Keyring(key).seal(GOSSIP_VERSION, Uint8Array.of(5, 1, 0x61, 1, 0, 2, 1)));
    s.gossip(peer('node-b', 1, generateSigningKey().secretKey));
    s.deliver({ type: MsgType.Gossip, from: 'x', facts: [Uint8Array.of(FactKind.Alive, 1, 2, 3), Uint8Array.of(42)] });
    expect(s.m.drops.toObject()).toMatchObject({ unauthenticated: 1, version: 1, malformed: 1, 'bad-record': 1, 'bad-fact': 1 });
  });
});

describe('Membership: SWIM state machine and events', () => {
  it('suspicion emits nothing; death removes; a higher incarnation brings the node back', () => {
    const s = setup();
    const b = generateSigningKey();
    const c = generateSigningKey().secretKey;
    s.gossip(peer('node-b', 1, b.secretKey));
    s.gossip(peer('node-c', 1, c, { address: '192.0.2.3' }));
    expect(s.events.map((e) => e.type)).toEqual(['peer-added', 'peer-added']);
    s.events.pop();
    const p: GossipPeer = s.events[0]!.peer;
    const spec: PeerSpec = p; // the event's peer is a data plane PeerSpec as is
    expect(spec.endpoint).toEqual({ address: '192.0.2.2', port: 8472 });
    expect(p.subnets.map(formatCidr)).toEqual(['10.244.3.0/24']);
    s.gossip(claim(FactKind.Suspect, 'node-b', 1, 'node-c', c));
    expect(s.m.get('node-b')?.state).toBe(MemberState.Suspect);
    expect(s.events).toHaveLength(1);
    // A refutation (same data, higher incarnation) clears the suspicion and changes nothing for the data plane.
    s.gossip(peer('node-b', 2, b.secretKey));
    expect(s.m.get('node-b')?.state).toBe(MemberState.Alive);
    expect(s.events).toHaveLength(1);
    s.gossip(peer('node-b', 3, b.secretKey, { subnets: [parseCidr('10.244.4.0/24')] }));
    expect(s.events.map((e) => e.type)).toEqual(['peer-added', 'peer-changed']);
    s.gossip(claim(FactKind.Dead, 'node-b', 2, 'node-c', c));
    expect(s.m.drops.get('stale')).toBe(1);
    s.gossip(claim(FactKind.Dead, 'node-b', 3, 'node-c', c));
    expect(s.events.at(-1)).toMatchObject({ type: 'peer-removed', name: 'node-b', reason: 'dead' });
    s.gossip(peer('node-b', 3, b.secretKey));
    expect(s.m.get('node-b')?.state).toBe(MemberState.Dead); // same incarnation cannot resurrect
    s.gossip(peer('node-b', 4, b.secretKey));
    expect(s.events.at(-1)).toMatchObject({ type: 'peer-added', name: 'node-b' });
  });

  it('a suspicion times out into death only after the Lifeguard timeout', () => {
    const s = setup();
    s.autoAck.on = true;
    s.m.start();
    const keys = ['b', 'c', 'd', 'e'].map((n) => {
      const k = generateSigningKey();
      s.gossip(peer(`node-${n}`, 1, k.secretKey));
      return k;
    });
    expect(keys).toHaveLength(4);
    s.gossip(claim(FactKind.Suspect, 'node-b', 1, 'node-c', keys[1]!.secretKey));
    // 5 live members: min = 1 * max(1, log10 5) * 400 = 400 ms, max = 1200 ms, k = 3.
    s.clock.advance(1100);
    expect(s.m.get('node-b')?.state).toBe(MemberState.Suspect);
    s.clock.advance(200);
    expect(s.m.get('node-b')?.state).toBe(MemberState.Dead);
    expect(s.events.at(-1)).toMatchObject({ type: 'peer-removed', name: 'node-b', reason: 'dead' });
  });

  it('refutes a suspicion about itself with a higher incarnation', () => {
    const s = setup();
    const b = generateSigningKey().secretKey;
    s.gossip(peer('node-b', 1, b));
    s.gossip(claim(FactKind.Suspect, 'self', 0, 'node-b', b));
    expect(s.m.incarnation).toBe(1);
    expect(s.m.stats.refutations).toBe(1);
    expect(s.m.awareness.score).toBe(1);
    // A claim above anything we signed is not believed (nor can it push us to 2^32 - 1).
    s.gossip(claim(FactKind.Dead, 'self', 0xffffffff, 'node-b', b));
    expect(s.m.drops.get('ahead')).toBe(1);
    expect(s.m.incarnation).toBe(1);
    s.gossip(claim(FactKind.Dead, 'self', 1, 'node-b', b));
    expect(s.m.incarnation).toBe(2);
    s.gossip(claim(FactKind.Dead, 'node-b', 5, 'node-c', b));
    expect(s.m.drops.get('ahead')).toBe(2);
    expect(s.m.get('node-b')?.isLive).toBe(true);
    // The refutation goes out piggybacked on the next message (to a member: node-b at its address).
    s.deliver({ type: MsgType.Ping, from: 'node-b', seq: 3, target: 'self', facts: [] }, '192.0.2.2');
    const ack = s.sent.at(-1)!.msg;
    expect(ack.type).toBe(MsgType.Ack);
    const facts = (ack as { facts: Uint8Array[] }).facts.map(decodeFact);
    const mine = facts.find((f) => f.ok && f.fact.kind === FactKind.Alive);
    expect(mine?.ok && mine.fact.kind === FactKind.Alive && decodeRecord(mine.fact.record)).toMatchObject({ ok: true, record: { name: 'self', incarnation: 2 } });
    // Our own record from a previous life (same key, higher incarnation): we say something newer.
    const prev = signRecord(fields('self', { address: '192.0.2.1' }), 40, s.secretKey);
    s.gossip({ kind: FactKind.Alive, record: prev });
    expect(s.m.incarnation).toBe(41);
  });

  it('answers pings for itself only, and relays ping-req for members only', () => {
    const s = setup();
    s.gossip(peer('node-b', 1, generateSigningKey().secretKey));
    s.gossip(peer('node-x', 1, generateSigningKey().secretKey, { address: '192.0.2.3' }));
    s.deliver({ type: MsgType.Ping, from: 'node-x', seq: 9, target: 'someone-else', facts: [] });
    expect(s.m.drops.get('wrong-target')).toBe(1);
    // SWIM's indirect probes are asked by members: not from an address no member has.
    s.deliver({ type: MsgType.PingReq, from: 'node-x', seq: 10, target: 'node-b', facts: [] });
    expect(s.m.drops.get('unverified')).toBe(1);
    s.deliver({ type: MsgType.PingReq, from: 'node-x', seq: 11, target: 'node-b', facts: [] }, '192.0.2.3');
    const ping = s.sent.at(-1)!;
    expect(ping).toMatchObject({ address: '192.0.2.2', port: 7946, msg: { type: MsgType.Ping, target: 'node-b' } });
    s.m.start();
    s.clock.advance(200);
    // No ack from node-b within the probe timeout: the relay tells the origin with a nack.
    expect(s.sent.some((x) => x.msg.type === MsgType.Nack && (x.msg as { seq: number }).seq === 11)).toBe(true);
  });

  it('a graceful leave is a signed record marked left: peers remove it at once', () => {
    const c = setup();
    const aKey = generateSigningKey();
    c.gossip(peer('node-a', 1, aKey.secretKey));
    c.gossip(peer('node-a', 2, aKey.secretKey, { flags: RecordFlag.Left }));
    expect(c.events.map((e) => [e.type, e.reason])).toEqual([['peer-added', undefined], ['peer-removed', 'left']]);
    expect(c.m.get('node-a')?.state).toBe(MemberState.Left);
  });

  it('a stalled tick raises its own doubt instead of accusing', () => {
    const s = setup();
    s.m.start();
    s.gossip(peer('node-b', 1, generateSigningKey().secretKey));
    s.clock.advance(100);
    s.clock.t += 600; // event loop stalled 600 ms
    s.clock.advance(50);
    expect(s.m.awareness.score).toBeGreaterThanOrEqual(2);
    expect(s.m.get('node-b')?.state).toBe(MemberState.Alive);
  });
});
