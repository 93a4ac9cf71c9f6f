import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/gossip/admission.ts';
import { nameHash } from '../../../src/gossip/anti-entropy.ts';
import { ANY_RECIPIENT, FactKind, MsgType, SYNC_BUCKETS, decodeMessage, encodeFact, encodeMessage } from '../../../src/gossip/codec.ts';
import type { Message, Stamp } from '../../../src/gossip/codec.ts';
import { Keyring } from '../../../src/gossip/keyring.ts';
import { Membership } from '../../../src/gossip/membership.ts';
import { generateSigningKey, signRecord } from '../../../src/gossip/record.ts';
import { fields } from './helpers.ts';

const ring = new Keyring(new Uint8Array(32).fill(9));
const SELF = nameHash('self');
const T = 1_767_225_600_000;

function setup() {
  const clock = { mono: 0, wall: T };
  const members = new Set<string>(['192.0.2.2:7946']);
  const a = new Admission({
    selfHash: SELF,
    now: () => clock.mono,
    wall: () => clock.wall,
    verified: (addr, port) => members.has(`${addr}:${port}`), // any name: this test is about addresses
  });
  const admit = (msg: Message, from = '198.51.100.1', stamp: Partial<Stamp> = {}) => {
    const bytes = encodeMessage(msg, ring, { sentAt: clock.wall, to: SELF, ...stamp });
    const v = decodeMessage(bytes, ring);
    if (!v.ok) throw new Error('test datagram did not decode');
    return { verdict: a.admit(v, bytes.length, from, 7946), bytes, v };
  };
  return { a, clock, members, admit };
}

const want = (n: number): Message => ({ type: MsgType.SyncWant, from: 'x', hashes: Array.from({ length: n }, (_, i) => i + 1) });

describe('Admission', () => {
  it('refuses datagrams stamped for another node; only a join may be unaddressed', () => {
    const s = setup();
    expect(s.admit(want(3), '192.0.2.2', { to: nameHash('other') }).verdict).toBe('wrong-recipient');
    expect(s.admit(want(3), '192.0.2.2', { to: ANY_RECIPIENT }).verdict).toBe('wrong-recipient');
    expect(s.admit({ type: MsgType.Gossip, from: 'j', facts: [] }, '192.0.2.9', { to: ANY_RECIPIENT }).verdict).toBeNull();
    const digest = { type: MsgType.SyncDigest, from: 'j', count: 0, buckets: new Uint32Array(SYNC_BUCKETS) } as const;
    expect(s.admit({ ...digest, reply: false }, '192.0.2.9', { to: ANY_RECIPIENT }).verdict).toBeNull();
    expect(s.admit({ ...digest, reply: true }, '192.0.2.9', { to: ANY_RECIPIENT }).verdict).toBe('wrong-recipient');
  });

  it('refuses a replayed datagram, from any source, and stale or future stamps', () => {
    const s = setup();
    const first = s.admit(want(3), '192.0.2.2');
    expect(first.verdict).toBeNull();
    expect(s.a.admit(first.v, first.bytes.length, '203.0.113.5', 7946)).toBe('replay');
    expect(s.admit(want(4), '192.0.2.2', { sentAt: T - 31_000 }).verdict).toBe('too-old');
    expect(s.admit(want(4), '192.0.2.2', { sentAt: T + 31_000 }).verdict).toBe('too-new');
  });

  it('takes ping-reqs from members only, drops identical sync requests within a second, and rate-limits per source', () => {
    const s = setup();
    const pingReq: Message = { type: MsgType.PingReq, from: 'x', seq: 1, target: 'b', facts: [] };
    expect(s.admit(pingReq, '198.51.100.1').verdict).toBe('unverified');
    expect(s.admit(pingReq, '192.0.2.2').verdict).toBeNull();
    expect(s.admit(want(5), '192.0.2.2').verdict).toBeNull();
    expect(s.admit(want(5), '192.0.2.2').verdict).toBe('duplicate');
    s.clock.mono += 1000;
    expect(s.admit(want(5), '192.0.2.2').verdict).toBeNull();
    // Pings are never de-duplicated (the prober's second direct ping repeats the first) but are rate-limited.
    const ping: Message = { type: MsgType.Ping, from: 'x', seq: 7, target: 'self', facts: [] };
    let limited = 0;
    for (let i = 0; i < 200; i++) if (s.admit(ping, '198.51.100.1').verdict === 'rate-limited') limited++;
    expect(limited).toBe(200 - 128); // the default burst (the refused ping-req took no token)
  });

  it('lets replies to unverified sources out up to 3x what they sent; members without limit', () => {
    const s = setup();
    const { bytes } = s.admit(want(2), '198.51.100.1');
    expect(s.a.mayReply('198.51.100.1', 7946, 'x', bytes.length * 3)).toBe(true);
    expect(s.a.mayReply('198.51.100.1', 7946, 'x', 1)).toBe(false);
    expect(s.a.mayReply('198.51.100.99', 7946, 'x', 1)).toBe(false);
    expect(s.a.mayReply('192.0.2.2', 7946, 'x', 100_000)).toBe(true);
  });
});

describe('Membership with admission', () => {
  it('counts a replayed datagram as replay and answers it nothing; answers an unverified pinger with a bare ack', () => {
    const sent: { address: string; bytes: Uint8Array }[] = [];
    let handler: (b: Uint8Array, a: string, p: number) => void = () => {};
    const wall = { t: T };
    const clock = { now: () => 0, wall: () => wall.t, every: () => ({ cancel: () => {} }) };
    const transport = { send: (address: string, _p: number, bytes: Uint8Array) => sent.push({ address, bytes }), onMessage: (h: typeof handler) => (handler = h), close: () => {} };
    const m = new Membership({ clock, transport, keyring: ring, secretKey: generateSigningKey().secretKey, self: fields('self', { address: '192.0.2.1' }) });
    // Something to piggyback, so that a member's ack would carry it.
    const b = generateSigningKey();
    const rec = signRecord(fields('node-b', { address: '192.0.2.2' }), 1, b.secretKey);
    handler(encodeMessage({ type: MsgType.Gossip, from: 'node-b', facts: [encodeFact({ kind: FactKind.Alive, record: rec })] }, ring, { sentAt: T, to: SELF }), '192.0.2.2', 7946);
    const ping = encodeMessage({ type: MsgType.Ping, from: 'node-b', seq: 1, target: 'self', facts: [] }, ring, { sentAt: T, to: SELF });
    handler(ping, '198.51.100.1', 7946);
    expect(sent).toHaveLength(1);
    const ack = decodeMessage(sent[0]!.bytes, ring);
    expect(ack.ok && ack.msg).toMatchObject({ type: MsgType.Ack, seq: 1, facts: [] });
    expect(ack.ok && ack.stamp).toEqual({ sentAt: T, to: nameHash('node-b') });
    for (let i = 0; i < 5; i++) handler(ping, '203.0.113.9', 7946);
    expect(sent).toHaveLength(1);
    expect(m.drops.get('replay')).toBe(5);
    wall.t += 60_000;
    handler(ping, '192.0.2.2', 7946);
    expect(m.drops.get('too-old')).toBe(1);
    expect(sent).toHaveLength(1);
    // A member's ping gets the piggybacked news.
    handler(encodeMessage({ type: MsgType.Ping, from: 'node-b', seq: 2, target: 'self', facts: [] }, ring, { sentAt: wall.t, to: SELF }), '192.0.2.2', 7946);
    const ack2 = decodeMessage(sent.at(-1)!.bytes, ring);
    expect(ack2.ok && ack2.msg.type === MsgType.Ack && ack2.msg.facts.length).toBeGreaterThan(0);
    // Version 1 datagrams are dropped and counted, never thrown.
    expect(() => handler(ring.seal(1, Uint8Array.of(MsgType.Gossip, 1, 0x61, 0)), '192.0.2.2', 7946)).not.toThrow();
    expect(m.drops.get('version')).toBe(1);
  });
});
