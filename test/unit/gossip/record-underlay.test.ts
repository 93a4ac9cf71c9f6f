/**
 * A node on both underlay families (dual underlay) signs both addresses in
 * one v2 record; each reader picks the family it has. An IPv4-only node
 * keeps signing v1, byte for byte (record.test.ts pins its digest).
 */
import { describe, expect, it } from 'vitest';
import { nameHash } from '../../../src/gossip/anti-entropy.ts';
import type { Clock } from '../../../src/gossip/clock.ts';
import { FactKind, MsgType, encodeFact, encodeMessage } from '../../../src/gossip/codec.ts';
import { Keyring } from '../../../src/gossip/keyring.ts';
import { Membership } from '../../../src/gossip/membership.ts';
import { RECORD_VERSION, RECORD_VERSION_DUAL, decodeReachable, decodeRecord, generateSigningKey, reachableAddress, signRecord, verifyRecord } from '../../../src/gossip/record.ts';
import type { NodeRecord, RecordVerdict } from '../../../src/gossip/record.ts';
import { parseCidr } from '../../../src/wire/addr.ts';
import { fields } from './helpers.ts';

const id = generateSigningKey();

function decoded(bytes: Uint8Array, decode: (b: Uint8Array) => RecordVerdict = decodeRecord): NodeRecord {
  const v = decode(bytes);
  if (!v.ok) throw new Error('record does not decode');
  return v.record;
}

describe('dual-underlay records', () => {
  const both = fields('node-b', { address: '10.99.0.2', address6: 'fd99::2' });

  it('carry the IPv4 address at 70 and the IPv6 one at 104, as v2 even with IPv4 subnets only, and verify', () => {
    const bytes = signRecord(both, 3, id.secretKey);
    expect(bytes[0]).toBe(RECORD_VERSION_DUAL);
    expect([...bytes.subarray(70, 74)]).toEqual([10, 99, 0, 2]);
    expect([...bytes.subarray(104, 120)]).toEqual([0xfd, 0x99, ...new Array<number>(13).fill(0), 2]);
    const v = decodeRecord(bytes);
    if (!v.ok) throw new Error('decode');
    expect([v.record.address, v.record.address6]).toEqual(['10.99.0.2', 'fd99::2']);
    expect(verifyRecord(v.body, v.signature, id.publicKey)).toBe(true);
    // Signed again from what it decoded to: the same bytes (Ed25519 is deterministic).
    expect(signRecord({ ...v.record }, 3, id.secretKey)).toEqual(bytes);
  });

  it('an IPv4-only node still signs v1, an IPv6-only one v2 with its address at 104 and none beside it', () => {
    const four = signRecord(fields('n'), 1, id.secretKey);
    expect(four[0]).toBe(RECORD_VERSION);
    expect(decoded(four).address6).toBe(undefined);
    const six = signRecord(fields('n', { address: 'fd99::3' }), 1, id.secretKey);
    expect([...six.subarray(70, 74)]).toEqual([0, 0, 0, 0]);
    expect([decoded(six).address, decoded(six).address6]).toEqual(['fd99::3', undefined]);
  });

  it('decoding never throws on a dual-underlay record cut short or with bytes changed, and a changed address fails verification', () => {
    const bytes = signRecord(both, 3, id.secretKey);
    let seed = 11;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const b = bytes.slice();
      for (let k = 0; k < 4; k++) b[rnd() % b.length] = rnd();
      expect(() => decodeRecord(b.subarray(0, rnd() % 2 === 0 ? b.length : rnd() % b.length))).not.toThrow();
    }
    for (const at of [73, 119]) {
      const b = bytes.slice();
      b[at] = b[at]! ^ 1;
      const v = decodeRecord(b);
      if (!v.ok) throw new Error('decode');
      expect(verifyRecord(v.body, v.signature, id.publicKey)).toBe(false);
    }
  });

  it('refuses a second address that is not IPv6 beside an IPv4 one (a local mistake)', () => {
    expect(() => signRecord(fields('n', { address: 'fd99::3', address6: 'fd99::4' }), 1, id.secretKey)).toThrow(RangeError);
    expect(() => signRecord(fields('n', { address: '10.99.0.2', address6: '10.99.0.3' }), 1, id.secretKey)).toThrow(RangeError);
  });

  it('each reader reaches it in a family both have, IPv6 when both have both (in any order: one rule for the pair); a reader sharing none gets nothing', () => {
    const b = decoded(signRecord(both, 1, id.secretKey));
    expect(reachableAddress(b, [4])).toBe('10.99.0.2');
    expect(reachableAddress(b, [6])).toBe('fd99::2');
    expect(reachableAddress(b, [4, 6])).toBe('fd99::2');
    expect(reachableAddress(b, [6, 4])).toBe('fd99::2');
    const c = decoded(signRecord(fields('node-c', { address: 'fd99::3' }), 1, id.secretKey));
    expect(reachableAddress(c, [4, 6])).toBe('fd99::3');
    expect(reachableAddress(c, [4])).toBe(undefined);
    const a = decoded(signRecord(fields('node-a', { address: '10.99.0.1' }), 1, id.secretKey));
    expect(reachableAddress(a, [6, 4])).toBe('10.99.0.1');
    expect(reachableAddress(a, [6])).toBe(undefined);
  });

  it('decodeReachable names the reachable address, and leaves the body and signature as signed', () => {
    const bytes = signRecord(both, 1, id.secretKey);
    const v = decodeReachable([6])(bytes);
    if (!v.ok) throw new Error('decode');
    expect(v.record.address).toBe('fd99::2');
    expect(verifyRecord(v.body, v.signature, id.publicKey)).toBe(true);
    expect(decoded(bytes, decodeReachable([4])).address).toBe('10.99.0.2');
    // No common family: the record keeps its own address (sends to it fail, counted).
    expect(decoded(signRecord(fields('n', { address: 'fd99::3' }), 1, id.secretKey), decodeReachable([4])).address).toBe('fd99::3');
    expect(decodeReachable([4])(bytes.subarray(0, 50)).ok).toBe(false);
  });

  it('membership with decodeReachable sends its probes to the family it has', () => {
    for (const [families, expected] of [[[4], '10.99.0.2'], [[6], 'fd99::2']] as const) {
      const ring = new Keyring(new Uint8Array(32).fill(5));
      let handler: (b: Uint8Array, a: string, p: number) => void = () => {};
      const sent: string[] = [];
      let tick = (): void => {};
      let now = 1000;
      const clock: Clock = { now: () => now, every: (_ms, fn) => ((tick = fn), { cancel: () => {} }) };
      const transport = { send: (a: string) => void sent.push(a), onMessage: (h: typeof handler) => (handler = h), close: () => {} };
      const self = fields('self', families[0] === 4 ? { address: '10.99.0.1' } : { address: 'fd99::1' });
      const m = new Membership({ clock, transport, keyring: ring, secretKey: generateSigningKey().secretKey, self, random: () => 0.5, decode: decodeReachable(families) });
      const fact = encodeFact({ kind: FactKind.Alive, record: signRecord({ ...both, subnets: [parseCidr('10.244.2.0/24')] }, 1, id.secretKey) });
      handler(encodeMessage({ type: MsgType.Gossip, from: 'node-b', facts: [fact] }, ring, { sentAt: Date.now(), to: nameHash('self') }), expected, 7946);
      expect(m.get('node-b')?.record.address).toBe(expected);
      m.start();
      for (let i = 0; i < 40 && sent.length === 0; i++) {
        now += 100;
        tick();
      }
      expect(sent.length).toBeGreaterThan(0);
      expect(new Set(sent)).toEqual(new Set([expected]));
      m.stop();
    }
  });
});
