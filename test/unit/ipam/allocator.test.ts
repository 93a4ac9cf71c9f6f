import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemberState } from '../../../src/gossip/member.ts';
import { RecordFlag } from '../../../src/gossip/record.ts';
import { SubnetAllocator, beats, pickFree, startIndex, subnetAt, subnetCount, subnetIndex } from '../../../src/ipam/allocator.ts';
import { FakeView, rec, tempDirs } from './helpers.ts';
import { leasePath, readLease, writeLease } from '../../../src/ipam/lease-file.ts';
import { isWeftError } from '../../../src/errors.ts';
import { formatCidr, parseCidr } from '../../../src/wire/addr.ts';

const cluster = parseCidr('10.244.0.0/16');

const tmp = tempDirs('weft-ipam-');

describe('subnet arithmetic', () => {
  it('enumerates /24s of a /16 and maps them back', () => {
    expect(subnetCount(cluster, 24)).toBe(256);
    expect(formatCidr(subnetAt(cluster, 24, 0))).toBe('10.244.0.0/24');
    expect(formatCidr(subnetAt(cluster, 24, 255))).toBe('10.244.255.0/24');
    expect(subnetIndex(cluster, 24, parseCidr('10.244.7.0/24'))).toBe(7);
    expect(subnetIndex(cluster, 24, parseCidr('10.245.0.0/24'))).toBe(-1);
    expect(subnetIndex(cluster, 24, parseCidr('10.244.7.0/25'))).toBe(-1);
    expect(subnetIndex(cluster, 24, parseCidr('10.243.255.0/24'))).toBe(-1);
    expect(formatCidr(subnetAt(parseCidr('10.0.0.0/8'), 26, 5))).toBe('10.0.1.64/26');
  });

  it('picks the first free index from the start, wrapping, or -1 when full', () => {
    expect(pickFree(4, new Set([2]), 2)).toBe(3);
    expect(pickFree(4, new Set([2, 3]), 2)).toBe(0);
    expect(pickFree(2, new Set([0, 1]), 0)).toBe(-1);
    expect(startIndex('node-a', 256)).toBe(startIndex('node-a', 256));
    expect(startIndex('node-a', 256)).not.toBe(startIndex('node-b', 256));
  });

  it('decides conflicts by one total rule: configured, then earlier claim, then lower name', () => {
    const a = { name: 'a', index: 1, claimedAt: 100, configured: false };
    const b = { name: 'b', index: 1, claimedAt: 50, configured: false };
    const c = { name: 'c', index: 1, claimedAt: 500, configured: true };
    expect(beats(b, a)).toBe(true);
    expect(beats(a, b)).toBe(false);
    expect(beats(c, b)).toBe(true);
    expect(beats({ ...a, claimedAt: 50 }, b)).toBe(true);
    expect(beats(b, { ...a, claimedAt: 50 })).toBe(false);
  });
});

describe('SubnetAllocator', () => {
  const make = (v: FakeView, extra: Partial<ConstructorParameters<typeof SubnetAllocator>[0]> = {}, now = { t: 0 }, wall = { t: 1000 }) =>
    new SubnetAllocator({ membership: v, now: () => now.t, wallNow: () => wall.t, ...extra });

  it('claims a subnet no known record holds and announces it with the claim time', () => {
    const v = new FakeView('node-a');
    const start = startIndex('node-a', 256);
    v.add(rec('node-b', formatCidr(subnetAt(cluster, 24, start)), 5));
    const s = make(v).allocate();
    expect(subnetIndex(cluster, 24, s)).toBe((start + 1) % 256);
    expect(v.record.subnets.map(formatCidr)).toEqual([formatCidr(s)]);
    expect(v.record.subnetClaimedAt).toBe(1000);
    expect(v.record.vtepIp).toBe(formatCidr(s).split('/')[0]);
  });

  it('the loser of a conflict picks again; the winner keeps its subnet', () => {
    const a = new FakeView('node-a');
    const alloc = make(a);
    const mine = alloc.allocate();
    // node-b claimed the same subnet earlier: it wins everywhere, node-a moves.
    a.add(rec('node-b', formatCidr(mine), 999));
    expect(alloc.check()).toBe(true);
    expect(formatCidr(a.record.subnets[0]!)).not.toBe(formatCidr(mine));
    expect(alloc.conflictsLost).toBe(1);
    // A later claim on our new subnet loses to us: we stay.
    const b = new FakeView('node-a2');
    const alloc2 = make(b);
    const kept = alloc2.allocate();
    b.add(rec('node-z', formatCidr(kept), 2000));
    expect(alloc2.check()).toBe(false);
    expect(formatCidr(b.record.subnets[0]!)).toBe(formatCidr(kept));
  });

  it("keeps a dead node's subnet taken for the grace period, then frees it", () => {
    const v = new FakeView('node-a');
    const now = { t: 10_000 };
    const start = startIndex('node-a', 256);
    v.add(rec('node-d', formatCidr(subnetAt(cluster, 24, start)), 5), MemberState.Dead, 9_000);
    const alloc = make(v, { graceMs: 5_000 }, now);
    expect(subnetIndex(cluster, 24, alloc.allocate())).toBe((start + 1) % 256);
    now.t = 14_001;
    expect(subnetIndex(cluster, 24, alloc.allocate())).toBe(start);
  });

  it('honours a configured subnet, which beats allocated claims', () => {
    const v = new FakeView('node-a');
    v.add(rec('node-b', '10.244.9.0/24', 1));
    const alloc = make(v, { configured: parseCidr('10.244.9.0/24') });
    expect(formatCidr(alloc.allocate())).toBe('10.244.9.0/24');
    expect(v.record.flags & RecordFlag.SubnetConfigured).toBe(RecordFlag.SubnetConfigured);
    expect(alloc.check()).toBe(false);
    expect(() => make(v, { configured: parseCidr('10.9.0.0/24') })).toThrow(/not a \/24 inside/);
  });

  it('reclaims the subnet in its lease after a restart, with its original seniority', () => {
    const dir = tmp();
    const file = leasePath(dir);
    const v1 = new FakeView('node-a');
    const first = make(v1, { leaseFile: file }, { t: 0 }, { t: 111 }).allocate();
    expect(readLease(file)).toEqual({ cluster, subnet: first, claimedAt: 111 });
    const v2 = new FakeView('node-a');
    // Someone else claimed it later while we were away: we keep it, they lose.
    v2.add(rec('node-b', formatCidr(first), 500));
    const again = make(v2, { leaseFile: file }, { t: 0 }, { t: 9999 }).allocate();
    expect(formatCidr(again)).toBe(formatCidr(first));
    expect(v2.record.subnetClaimedAt).toBe(111);
    expect(readdirSync(dir)).toEqual(['subnet-lease.json']); // no temp file left behind
  });

  it('ignores an unusable lease file and fails clearly when the cluster CIDR is full', () => {
    const dir = tmp();
    const file = leasePath(dir);
    writeFileSync(file, '{ not json');
    expect(readLease(file)).toBeNull();
    writeFileSync(file, JSON.stringify({ version: 1, cluster: '10.244.0.0/16', subnet: '10.244.1.7/24', claimedAt: 1 }));
    expect(readLease(file)).toBeNull();
    expect(readLease(join(dir, 'absent.json'))).toBeNull();
    writeLease(file, { cluster, subnet: parseCidr('10.244.1.0/24'), claimedAt: 5 });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 1, subnet: '10.244.1.0/24' });
    const v = new FakeView('node-a');
    const small = parseCidr('10.244.0.0/23');
    v.add(rec('b', '10.244.0.0/24', 1));
    v.add(rec('c', '10.244.1.0/24', 1));
    try {
      make(v, { cluster: small }).allocate();
      expect.unreachable();
    } catch (err) {
      expect(isWeftError(err, 'IPAM_EXHAUSTED')).toBe(true);
    }
  });
});
