import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecordFlag } from '../../../src/gossip/record.ts';
import { DEFAULT_CLUSTER_CIDR6, SubnetAllocator, startIndex, subnetAt, subnetIndex, subnetOf } from '../../../src/ipam/allocator.ts';
import { leasePath, readLease } from '../../../src/ipam/lease-file.ts';
import { isWeftError } from '../../../src/errors.ts';
import { formatCidr, parseCidr } from '../../../src/wire/addr.ts';
import { FakeView, rec, tempDirs } from './helpers.ts';

const v4 = parseCidr('10.244.0.0/16');
const v6 = parseCidr(DEFAULT_CLUSTER_CIDR6);

const tmp = tempDirs('weft-ipam6-');

/** A node's two allocators over one membership view, as GossipControl makes them. */
function node(v: FakeView, wall = { t: 1000 }, leaseDir?: string, configured6?: string) {
  const base = { membership: v, now: () => 0, wallNow: () => wall.t };
  return {
    a4: new SubnetAllocator({ ...base, cluster: v4, ...(leaseDir ? { leaseFile: leasePath(leaseDir, 4) } : {}) }),
    a6: new SubnetAllocator({ ...base, cluster: v6, ...(leaseDir ? { leaseFile: leasePath(leaseDir, 6) } : {}), ...(configured6 ? { configured: parseCidr(configured6) } : {}) }),
  };
}

const texts = (v: FakeView): string[] => v.record.subnets.map(formatCidr);

describe('IPv6 subnet arithmetic', () => {
  it('enumerates the /64s of a /56 and maps them back, past 32 bits', () => {
    expect(formatCidr(subnetAt(v6, 64, 0))).toBe('fd00:10:244::/64');
    expect(formatCidr(subnetAt(v6, 64, 255))).toBe('fd00:10:244:ff::/64');
    expect(subnetIndex(v6, 64, parseCidr('fd00:10:244:7::/64'))).toBe(7);
    expect(subnetIndex(v6, 64, parseCidr('fd00:10:245::/64'))).toBe(-1);
    expect(subnetIndex(v6, 64, parseCidr('fd00:10:243:ff00::/64'))).toBe(-1);
    expect(subnetIndex(v6, 64, parseCidr('10.244.7.0/24'))).toBe(-1);
    expect(subnetIndex(v4, 24, parseCidr('fd00:10:244:7::/64'))).toBe(-1);
    const wide = parseCidr('fd00:1::/40');
    expect(formatCidr(subnetAt(wide, 64, 0xabcdef))).toBe('fd00:1:ab:cdef::/64');
    expect(subnetIndex(wide, 64, parseCidr('fd00:1:ab:cdef::/64'))).toBe(0xabcdef);
  });

  it('refuses an IPv6 subnet size it cannot count or that leaves its cluster', () => {
    const v = new FakeView('n');
    const make = (cluster: string, subnetBits?: number) => () => new SubnetAllocator({ membership: v, now: () => 0, wallNow: () => 0, cluster: parseCidr(cluster), ...(subnetBits ? { subnetBits } : {}) });
    expect(make('fd00::/32')).toThrow(/at most 24 bits longer/);
    expect(make('fd00::/56', 48)).toThrow(/inside the IPv6 cluster CIDR/);
    expect(make('fd00::/120', 127)).toThrow(/at most \/126/);
    expect(make('fd00::/56')().bits).toBe(64);
  });
});

describe('one subnet per family', () => {
  it('claims one of each, keeps the IPv4 one first, and records each claim time apart', () => {
    const v = new FakeView('node-a');
    const wall = { t: 1000 };
    const { a4, a6 } = node(v, wall);
    const s4 = a4.allocate();
    wall.t = 2000;
    const s6 = a6.allocate();
    expect(subnetIndex(v4, 24, s4)).toBe(startIndex('node-a', 256));
    expect(subnetIndex(v6, 64, s6)).toBe(startIndex('node-a', 256));
    expect(texts(v)).toEqual([formatCidr(s4), formatCidr(s6)]);
    expect([v.record.subnetClaimedAt, v.record.subnet6ClaimedAt]).toEqual([1000, 2000]);
    expect(v.record.vtepIp).toBe(formatCidr(s4).split('/')[0]);
    // Allocating IPv4 again leaves the IPv6 subnet and its claim in place.
    a4.allocate();
    expect(texts(v)).toEqual([formatCidr(s4), formatCidr(s6)]);
    expect(v.record.subnet6ClaimedAt).toBe(2000);
  });

  it('avoids each family\'s taken subnets independently', () => {
    const v = new FakeView('node-a');
    const start = startIndex('node-a', 256);
    // node-b holds our preferred IPv6 /64 but another IPv4 /24; node-c (IPv4 only) our preferred /24.
    v.add(rec('node-b', '10.244.200.0/24', 5, 0, { subnets: [parseCidr('10.244.200.0/24'), subnetAt(v6, 64, start)], subnet6ClaimedAt: 5 }));
    v.add(rec('node-c', formatCidr(subnetAt(v4, 24, start)), 5));
    const { a4, a6 } = node(v);
    expect(subnetIndex(v4, 24, a4.allocate())).toBe((start + 1) % 256);
    expect(subnetIndex(v6, 64, a6.allocate())).toBe((start + 1) % 256);
  });

  it('settles an IPv6 conflict by the same rule, per family: the IPv4 subnet and its seniority stay', () => {
    const v = new FakeView('node-a');
    const wall = { t: 1000 };
    const { a4, a6 } = node(v, wall);
    const s4 = a4.allocate();
    const s6 = a6.allocate();
    // node-b claimed our IPv6 /64 earlier (but its IPv4 claim is later than ours): we lose the /64 only.
    v.add(rec('node-b', '10.244.250.0/24', 5000, 0, { subnets: [parseCidr('10.244.250.0/24'), s6], subnet6ClaimedAt: 500 }));
    wall.t = 3000;
    expect(a4.check()).toBe(false);
    expect(a6.check()).toBe(true);
    expect(a6.conflictsLost).toBe(1);
    expect(formatCidr(subnetOf(v.record, 4)!)).toBe(formatCidr(s4));
    expect(formatCidr(subnetOf(v.record, 6)!)).not.toBe(formatCidr(s6));
    expect([v.record.subnetClaimedAt, v.record.subnet6ClaimedAt]).toEqual([1000, 3000]);
    // Settled: checking again finds nothing to move.
    expect(a6.check()).toBe(false);
  });

  it('the IPv6 configured flag wins IPv6 conflicts only, and is announced apart from the IPv4 one', () => {
    const v = new FakeView('node-a');
    v.add(rec('node-b', '10.244.9.0/24', 1, 0, { subnets: [parseCidr('10.244.9.0/24'), parseCidr('fd00:10:244:9::/64')], subnet6ClaimedAt: 1 }));
    const { a4, a6 } = node(v, { t: 1000 }, undefined, 'fd00:10:244:9::/64');
    expect(formatCidr(a6.allocate())).toBe('fd00:10:244:9::/64');
    expect(formatCidr(a4.allocate())).not.toBe('10.244.9.0/24');
    expect(v.record.flags & (RecordFlag.SubnetConfigured | RecordFlag.Subnet6Configured)).toBe(RecordFlag.Subnet6Configured);
    expect(a6.check()).toBe(false);
    // node-b sees our configured /64 beat its allocated one, and moves; its IPv4 subnet is untouched.
    const b = new FakeView('node-b');
    b.record = rec('node-b', null, 0, 0, { subnets: [parseCidr('10.244.9.0/24'), parseCidr('fd00:10:244:9::/64')], subnetClaimedAt: 1, subnet6ClaimedAt: 1 });
    b.add(v.record);
    const nb = node(b, { t: 4000 });
    expect(nb.a4.check()).toBe(false);
    expect(nb.a6.check()).toBe(true);
    expect(formatCidr(subnetOf(b.record, 4)!)).toBe('10.244.9.0/24');
  });

  it('keeps a lease per family; a restart takes both back with their seniority, and an old IPv4 lease loads as it is', () => {
    const dir = tmp();
    // A lease as weft wrote it before dual-stack.
    writeFileSync(join(dir, 'subnet-lease.json'), JSON.stringify({ version: 1, cluster: '10.244.0.0/16', subnet: '10.244.42.0/24', claimedAt: 77 }, null, 2) + '\n');
    const v = new FakeView('node-a');
    const first = node(v, { t: 500 }, dir);
    expect(formatCidr(first.a4.allocate())).toBe('10.244.42.0/24');
    const s6 = first.a6.allocate();
    expect(readdirSync(dir).sort()).toEqual(['subnet-lease.json', 'subnet6-lease.json']);
    expect(readLease(leasePath(dir, 6))).toEqual({ cluster: v6, subnet: s6, claimedAt: 500 });
    expect(JSON.parse(readFileSync(join(dir, 'subnet-lease.json'), 'utf8'))).toEqual({ version: 1, cluster: '10.244.0.0/16', subnet: '10.244.42.0/24', claimedAt: 77 });
    // Restarted, with later claims on both of its subnets from others: it keeps both.
    const v2 = new FakeView('node-a');
    v2.add(rec('node-z', '10.244.42.0/24', 900, 0, { subnets: [parseCidr('10.244.42.0/24'), s6], subnet6ClaimedAt: 900 }));
    const again = node(v2, { t: 9999 }, dir);
    again.a4.allocate();
    again.a6.allocate();
    expect(texts(v2)).toEqual(['10.244.42.0/24', formatCidr(s6)]);
    expect([v2.record.subnetClaimedAt, v2.record.subnet6ClaimedAt]).toEqual([77, 500]);
  });

  it('ignores a lease of the other family and fails clearly when the IPv6 cluster is full', () => {
    const dir = tmp();
    writeFileSync(leasePath(dir, 6), JSON.stringify({ version: 1, cluster: 'fd00:10:244::/56', subnet: '10.244.1.0/24', claimedAt: 1 }));
    expect(readLease(leasePath(dir, 6))).toBeNull();
    const v = new FakeView('node-a');
    v.add(rec('b', null, 0, 0, { subnets: [parseCidr('fd00:10:244::/64')], subnet6ClaimedAt: 1 }));
    v.add(rec('c', null, 0, 0, { subnets: [parseCidr('fd00:10:244:1::/64')], subnet6ClaimedAt: 1 }));
    try {
      new SubnetAllocator({ membership: v, now: () => 0, wallNow: () => 0, cluster: parseCidr('fd00:10:244::/63') }).allocate();
      expect.unreachable();
    } catch (err) {
      expect(isWeftError(err, 'IPAM_EXHAUSTED')).toBe(true);
      expect((err as Error).message).toMatch(/no free \/64 left in fd00:10:244::\/63/);
    }
  });
});
