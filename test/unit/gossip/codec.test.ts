import { describe, expect, it } from 'vitest';
import {
  ANY_RECIPIENT, FactKind, GOSSIP_VERSION, MAX_DATAGRAM, MsgType, STAMP_LEN, SYNC_BUCKETS, decodeFact, decodeMessage, encodeFact, encodeMessage,
  factBudget, nonceOf,
} from '../../../src/gossip/codec.ts';
import type { Message } from '../../../src/gossip/codec.ts';
import { Keyring } from '../../../src/gossip/keyring.ts';

const k1 = new Uint8Array(32).fill(1);
const k2 = new Uint8Array(32).fill(2);

describe('gossip codec', () => {
  const ring = new Keyring(k1);

  it('round-trips every message type', () => {
    const facts = [
      encodeFact({ kind: FactKind.Suspect, name: 'b', incarnation: 7, from: 'a', signature: new Uint8Array(64).fill(0xab) }),
      encodeFact({ kind: FactKind.Alive, record: new Uint8Array(150).fill(3) }),
    ];
    const buckets = new Uint32Array(SYNC_BUCKETS).map((_, i) => i * 0x01010101);
    const msgs: Message[] = [
      { type: MsgType.Ping, from: 'a', seq: 0xfffffffe, target: 'b', facts },
      { type: MsgType.PingReq, from: 'a', seq: 5, target: 'c', facts: [] },
      { type: MsgType.Ack, from: 'b', seq: 5, facts },
      { type: MsgType.Nack, from: 'b', seq: 6, facts: [] },
      { type: MsgType.Gossip, from: 'ñode', facts },
      { type: MsgType.SyncRecords, from: 'a', facts },
      { type: MsgType.SyncDigest, from: 'a', reply: true, count: 1000, buckets },
      { type: MsgType.SyncEntries, from: 'a', entries: [{ hash: 2 ** 48 - 1, incarnation: 9, stateClass: 1 }, { hash: 0, incarnation: 0, stateClass: 0 }] },
      { type: MsgType.SyncWant, from: 'a', hashes: [1, 2 ** 47 + 5] },
    ];
    const stamp = { sentAt: 1_767_225_600_123, to: 2 ** 48 - 2 };
    for (const m of msgs) {
      const d = encodeMessage(m, ring, stamp);
      expect(d.length).toBeLessThanOrEqual(MAX_DATAGRAM);
      const v = decodeMessage(d, ring);
      expect(v).toMatchObject({ ok: true, msg: m, stamp });
      expect(v.ok && v.nonce).toEqual(nonceOf(d));
      expect(v.ok && v.body.length).toBe(ring.open(d)!.length - STAMP_LEN);
    }
  });

  it('stamps with the wall clock for any recipient by default', () => {
    const before = Date.now();
    const v = decodeMessage(encodeMessage({ type: MsgType.Gossip, from: 'a', facts: [] }, ring), ring);
    expect(v.ok && v.stamp.to).toBe(ANY_RECIPIENT);
    expect(v.ok && v.stamp.sentAt).toBeGreaterThanOrEqual(before);
    expect(v.ok && v.stamp.sentAt).toBeLessThanOrEqual(Date.now());
  });

  it('drops version 1 datagrams (no stamp, so no replay check) as version, even when the key opens them', () => {
    expect(GOSSIP_VERSION).toBe(2);
    const v1 = ring.seal(1, Uint8Array.of(MsgType.Gossip, 1, 0x61, 0));
    expect(ring.open(v1)).not.toBeNull();
    expect(decodeMessage(v1, ring)).toEqual({ ok: false, reason: 'version' });
    // A version 2 plaintext too short to hold the stamp is malformed.
    expect(decodeMessage(ring.seal(GOSSIP_VERSION, new Uint8Array(STAMP_LEN - 1)), ring)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('decodes facts and rejects bad ones', () => {
    // A signed claim: kind 6, incarnation, name, from, then the 64-byte signature, byte for byte.
    const signature = new Uint8Array(64).map((_, i) => i);
    const f = encodeFact({ kind: FactKind.Dead, name: 'node-9', incarnation: 3, from: 'node-1', signature });
    expect(Buffer.from(f).toString('hex')).toBe(`0600000003066e6f64652d39066e6f64652d31${Buffer.from(signature).toString('hex')}`);
    expect(decodeFact(f)).toEqual({ ok: true, fact: { kind: FactKind.Dead, name: 'node-9', incarnation: 3, from: 'node-1', signature } });
    expect(decodeFact(f.subarray(0, f.length - 1)).ok).toBe(false);
    expect(decodeFact(f.subarray(0, f.length - 64)).ok).toBe(false);
    // The unsigned form of weft before signed claims still decodes (to be counted, never believed).
    const old = encodeFact({ kind: FactKind.UnsignedDead, name: 'node-9', incarnation: 3, from: 'node-1' });
    expect(Buffer.from(old).toString('hex')).toBe('0300000003066e6f64652d39066e6f64652d31');
    expect(decodeFact(old)).toEqual({ ok: true, fact: { kind: FactKind.UnsignedDead, name: 'node-9', incarnation: 3, from: 'node-1' } });
    expect(decodeFact(Uint8Array.of(9, 0, 0)).ok).toBe(false);
    expect(decodeFact(Uint8Array.of(FactKind.Alive)).ok).toBe(false);
  });

  it('drops datagrams sealed with an unknown key, tampered, or of another version', () => {
    const d = encodeMessage({ type: MsgType.Gossip, from: 'a', facts: [] }, ring);
    expect(decodeMessage(d, new Keyring(k2))).toEqual({ ok: false, reason: 'unauthenticated' });
    for (const i of [0, 1, 30, d.length - 1]) {
      const t = d.slice();
      t[i]! ^= 0x80;
      const v = decodeMessage(t, ring);
      expect(v.ok).toBe(false);
      expect(v.ok ? '' : v.reason).toBe(i === 0 ? 'version' : 'unauthenticated');
    }
    expect(decodeMessage(new Uint8Array(0), ring).ok).toBe(false);
    expect(decodeMessage(Uint8Array.of(GOSSIP_VERSION, 2, 3), ring)).toEqual({ ok: false, reason: 'unauthenticated' });
    expect(decodeMessage(new Uint8Array(MAX_DATAGRAM + 1).fill(GOSSIP_VERSION), ring)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('authenticated garbage is malformed, never an exception', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const good = encodeMessage({ type: MsgType.Ping, from: 'a', seq: 1, target: 'b', facts: [new Uint8Array(20).fill(1)] }, ring);
    const plain = ring.open(good)!;
    for (let i = 0; i < 3000; i++) {
      const p = plain.slice(0, 1 + (rnd() % plain.length));
      for (let k = 0; k < 3; k++) p[rnd() % p.length] = rnd();
      if (i % 5 === 0 && p.length > STAMP_LEN) p[STAMP_LEN] = rnd() % 12;
      const sealed = ring.seal(GOSSIP_VERSION, p);
      expect(() => decodeMessage(sealed, ring)).not.toThrow();
    }
    const unknownType = Uint8Array.of(...plain.subarray(0, STAMP_LEN), 99, 1, 0x61);
    expect(decodeMessage(ring.seal(GOSSIP_VERSION, unknownType), ring)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('a message filled to the fact budget fits one datagram', () => {
    const budget = factBudget('a'.repeat(63), 'b'.repeat(63));
    const facts: Uint8Array[] = [];
    let used = 0;
    while (used + 103 <= budget) {
      facts.push(new Uint8Array(100).fill(1));
      used += 103;
    }
    const d = encodeMessage({ type: MsgType.Ping, from: 'a'.repeat(63), seq: 1, target: 'b'.repeat(63), facts }, ring);
    expect(d.length).toBeLessThanOrEqual(MAX_DATAGRAM);
  });
});

describe('Keyring', () => {
  it('accepts any of its keys, sends with the primary, rotates without a gap', () => {
    const a = new Keyring(k1);
    const b = new Keyring(k1);
    const m = encodeMessage({ type: MsgType.Gossip, from: 'a', facts: [] }, a);
    b.add(k2);
    expect(decodeMessage(m, b).ok).toBe(true);
    b.usePrimary(k2);
    const m2 = encodeMessage({ type: MsgType.Gossip, from: 'b', facts: [] }, b);
    expect(decodeMessage(m2, a).ok).toBe(false);
    a.add(k2);
    expect(decodeMessage(m2, a).ok).toBe(true);
    expect(() => b.remove(k2)).toThrow();
    b.remove(k1);
    expect(decodeMessage(m, b).ok).toBe(false);
    expect(() => new Keyring(new Uint8Array(16))).toThrow();
  });

  it('uses a fresh nonce for every datagram', () => {
    const a = new Keyring(k1);
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) seen.add(Buffer.from(a.seal(GOSSIP_VERSION, Uint8Array.of(1)).subarray(1, 25)).toString('hex'));
    expect(seen.size).toBe(500);
  });
});
