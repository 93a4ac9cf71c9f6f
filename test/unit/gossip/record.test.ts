import { describe, expect, it } from 'vitest';
import { RecordFlag, decodeRecord, generateSigningKey, signRecord, verifyRecord } from '../../../src/gossip/record.ts';
import { formatCidr } from '../../../src/wire/addr.ts';
import { fields } from './helpers.ts';

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
    let seed = 1;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const b = bytes.slice();
      for (let k = 0; k < 4; k++) b[rnd() % b.length] = rnd();
      expect(() => decodeRecord(b.subarray(0, rnd() % 2 === 0 ? b.length : rnd() % b.length))).not.toThrow();
    }
  });

  it('refuses to sign an over-long name (a local mistake)', () => {
    expect(() => signRecord(fields('x'.repeat(64)), 1, id.secretKey)).toThrow(RangeError);
  });
});
