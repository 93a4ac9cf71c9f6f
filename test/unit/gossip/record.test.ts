import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { MAX_SUBNETS, RECORD_VERSION, RECORD_VERSION_DUAL, RecordFlag, decodeRecord, generateSigningKey, signRecord, verifyRecord } from '../../../src/gossip/record.ts';
import { FactKind, encodeFact, factBudget, factCost } from '../../../src/gossip/codec.ts';
import { formatCidr, parseCidr } from '../../../src/wire/addr.ts';
import { fields } from './helpers.ts';

/** 2000 copies of `bytes` with four random bytes changed, half of them cut short: none makes decodeRecord throw. */
function decodesMutationsSafely(bytes: Uint8Array, seed: number): void {
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let i = 0; i < 2000; i++) {
    const b = bytes.slice();
    for (let k = 0; k < 4; k++) b[rnd() % b.length] = rnd();
    expect(() => decodeRecord(b.subarray(0, rnd() % 2 === 0 ? b.length : rnd() % b.length))).not.toThrow();
  }
}

describe('node record', () => {
  const id = generateSigningKey();

  it('round-trips every field and verifies under its own key', () => {
    const wg = new Uint8Array(32).fill(9);
    const bytes = signRecord(fields('node-a', { wgPublicKey: wg, location: 'zone-b' }), 42, id.secretKey);
    const v = decodeRecord(bytes);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    const r = v.record;
    expect(r.name).toBe('node-a');
    expect(r.incarnation).toBe(42);
    expect(r.signingKey).toEqual(id.publicKey);
    expect(r.wgPublicKey).toEqual(wg);
    expect(r.flags & RecordFlag.HasWg).toBe(RecordFlag.HasWg);
    expect(r.address).toBe('192.0.2.10');
    expect([r.gossipPort, r.dataPort]).toEqual([7946, 8472]);
    expect(Array.from(r.vtepMac)).toEqual([2, 1, 2, 3, 4, 5]);
    expect(r.vtepIp).toBe('10.244.3.0');
    expect(r.subnetClaimedAt).toBe(1_700_000_000_000);
    expect(r.location).toBe('zone-b');
    expect(r.subnets.map(formatCidr)).toEqual(['10.244.3.0/24']);
    expect(verifyRecord(v.body, v.signature, r.signingKey)).toBe(true);
    expect(bytes.length).toBeLessThan(250);
  });

  it('a changed byte or another key fails verification', () => {
    const bytes = signRecord(fields('node-a'), 1, id.secretKey);
    const other = generateSigningKey();
    for (const i of [1, 5, 70, 100, bytes.length - 1]) {
      const t = bytes.slice();
      t[i]! ^= 1;
      const v = decodeRecord(t);
      if (v.ok) expect(verifyRecord(v.body, v.signature, v.record.signingKey)).toBe(false);
    }
    const v = decodeRecord(bytes);
    if (!v.ok) throw new Error('decode');
    expect(verifyRecord(v.body, v.signature, other.publicKey)).toBe(false);
    // A record re-signed by another key names that key: membership then rejects it by name binding.
    const forged = decodeRecord(signRecord(fields('node-a'), 2, other.secretKey));
    expect(forged.ok && forged.record.signingKey).toEqual(other.publicKey);
  });

  it('rejects malformed input with a verdict, never an exception', () => {
    const bytes = signRecord(fields('node-a'), 1, id.secretKey);
    expect(decodeRecord(new Uint8Array(0))).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeRecord(bytes.subarray(0, 100)).ok).toBe(false);
    const badVersion = bytes.slice();
    badVersion[0] = 9;
    expect(decodeRecord(badVersion).ok).toBe(false);
    const extra = new Uint8Array(bytes.length + 1);
    extra.set(bytes);
    // One byte too many shifts the signature: decodes differently, never verifies.
    const ve = decodeRecord(extra);
    if (ve.ok) expect(verifyRecord(ve.body, ve.signature, ve.record.signingKey)).toBe(false);
    decodesMutationsSafely(bytes, 1);
  });

  it('refuses to sign an over-long name (a local mistake)', () => {
    expect(() => signRecord(fields('x'.repeat(64)), 1, id.secretKey)).toThrow(RangeError);
  });

  describe('dual-stack (v2)', () => {
    const dual = fields('node-a', {
      subnets: [parseCidr('10.244.3.0/24'), parseCidr('fd00:10:244:3::/64')],
      subnet6ClaimedAt: 1_700_000_000_500,
      flags: RecordFlag.Subnet6Configured,
    });

    it('an IPv4-only record is v1, byte for byte what weft signed before dual-stack', () => {
      // The digest of this record as signed by the v1-only encoder (commit 54ae54d), under a fixed key: Ed25519 is deterministic.
      const f = fields('node-a', { flags: RecordFlag.SubnetConfigured, wgPublicKey: new Uint8Array(32).fill(9), subnets: [parseCidr('10.244.3.0/24'), parseCidr('10.9.0.0/16')] });
      const bytes = signRecord({ ...f, subnet6ClaimedAt: 5, flags: f.flags | RecordFlag.Subnet6Configured }, 42, new Uint8Array(32).fill(7));
      expect(bytes[0]).toBe(RECORD_VERSION);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe('4842b6a84add08d4bf61de9ab71ec50bfeee98f195677a30f6841934ceb1382b');
      const v = decodeRecord(bytes);
      expect(v.ok && v.record.subnet6ClaimedAt).toBe(undefined);
    });

    it('round-trips both families, the IPv6 claim time and flag, and verifies', () => {
      const bytes = signRecord(dual, 7, id.secretKey);
      expect(bytes[0]).toBe(RECORD_VERSION_DUAL);
      const v = decodeRecord(bytes);
      if (!v.ok) throw new Error('decode');
      expect(v.record.subnets.map(formatCidr)).toEqual(['10.244.3.0/24', 'fd00:10:244:3::/64']);
      expect(v.record.subnets.map((c) => c.family)).toEqual([4, 6]);
      expect(v.record.subnetClaimedAt).toBe(1_700_000_000_000);
      expect(v.record.subnet6ClaimedAt).toBe(1_700_000_000_500);
      expect(v.record.flags & RecordFlag.Subnet6Configured).toBe(RecordFlag.Subnet6Configured);
      expect(v.record.name).toBe('node-a');
      expect(v.record.location).toBe('rack-1');
      expect(verifyRecord(v.body, v.signature, id.publicKey)).toBe(true);
      // Relabelled as v1 (what an old node would need to misread it), the signature no longer holds.
      const relabelled = bytes.slice();
      relabelled[0] = RECORD_VERSION;
      const r = decodeRecord(relabelled);
      if (r.ok) expect(verifyRecord(r.body, r.signature, id.publicKey)).toBe(false);
    });

    it('an IPv6-only record and the largest record both decode and stay within a datagram', () => {
      const six = decodeRecord(signRecord(fields('n', { subnets: [parseCidr('fd00:10:244:9::/64')] }), 1, id.secretKey));
      expect(six.ok && six.record.subnets.map(formatCidr)).toEqual(['fd00:10:244:9::/64']);
      const most = Array.from({ length: MAX_SUBNETS }, (_, i) => parseCidr(`fd00:10:244:${i}::/64`));
      const big = signRecord(fields('x'.repeat(63), { location: 'y'.repeat(63), subnets: most }), 1, id.secretKey);
      // The largest v2 record: 120 fixed + 64 + 64 + 1 + 8 x 18 + 64 signature.
      expect(big.length).toBe(457);
      // Two of them fit one gossip message between the longest names (v1's largest: three).
      expect(2 * factCost(encodeFact({ kind: FactKind.Alive, record: big }))).toBeLessThanOrEqual(factBudget('x'.repeat(63), 'y'.repeat(63)));
      expect(decodeRecord(big).ok).toBe(true);
      expect(() => signRecord(fields('n', { subnets: [...most, parseCidr('10.0.0.0/8')] }), 1, id.secretKey)).toThrow(RangeError);
    });

    it('carries an IPv6 underlay address (v2 even with IPv4 subnets only), and an IPv4 one beside IPv6 subnets', () => {
      const v6 = decodeRecord(signRecord(fields('n', { address: 'fd99::7', subnets: [parseCidr('10.244.7.0/24')] }), 1, id.secretKey));
      expect(v6.ok && [v6.record.address, v6.body[0]]).toEqual(['fd99::7', 2]);
      const v4 = decodeRecord(signRecord(fields('n', { address: '10.99.0.7', subnets: [parseCidr('fd00:10:244:7::/64')] }), 1, id.secretKey));
      expect(v4.ok && [v4.record.address, v4.body[0]]).toEqual(['10.99.0.7', 2]);
    });

    it('drops malformed subnet lists with a verdict: bad family, prefix, host bits, count, length', () => {
      const bytes = signRecord(dual, 7, id.secretKey);
      const list = bytes.length - 64 - (1 + 6 + 18); // count byte, then the IPv4 entry, then the IPv6 entry
      expect(bytes[list]).toBe(2);
      const mutate = (at: number, value: number): boolean => {
        const b = bytes.slice();
        b[at] = value;
        return decodeRecord(b).ok;
      };
      expect(mutate(list + 1, 5)).toBe(false); // family neither 4 nor 6
      expect(mutate(list + 7, 4)).toBe(false); // an IPv6 entry labelled IPv4: the list no longer ends at the signature
      expect(mutate(list + 6, 33)).toBe(false); // IPv4 prefix over 32
      expect(mutate(list + 24, 129)).toBe(false); // IPv6 prefix over 128
      expect(mutate(list + 24, 56)).toBe(false); // /56 leaves host bits of fd00:10:244:3:: set
      expect(mutate(list + 16, 1)).toBe(false); // a host bit inside the /64
      expect(mutate(list, 3)).toBe(false);
      expect(mutate(list, 1)).toBe(false);
      expect(mutate(list, MAX_SUBNETS + 1)).toBe(false);
      expect(mutate(list + 24, 64)).toBe(true); // unchanged: the control case
      for (let cut = 0; cut < bytes.length; cut++) expect(decodeRecord(bytes.subarray(0, cut)).ok).toBe(false);
      decodesMutationsSafely(bytes, 7);
    });
  });
});
