import { describe, expect, it } from 'vitest';
import { isWeftError } from '../../../src/errors.ts';
import { RouteTable } from '../../../src/route/route-table.ts';
import { cidrContains, formatCidr, parseCidr, parseIpv4, parseIpv6 } from '../../../src/wire/addr.ts';
import type { Cidr } from '../../../src/wire/addr.ts';
import { mulberry32 } from '../../helpers/random.ts';

const v4 = (s: string): Uint8Array => {
  const n = parseIpv4(s);
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
};

describe('RouteTable basics', () => {
  it('finds the longest matching IPv4 prefix', () => {
    const t = new RouteTable<string>();
    t.insert(parseCidr('0.0.0.0/0'), 'default');
    t.insert(parseCidr('10.0.0.0/8'), 'ten');
    t.insert(parseCidr('10.244.0.0/16'), 'cluster');
    t.insert(parseCidr('10.244.1.0/24'), 'node1');
    t.insert(parseCidr('10.244.1.7/32'), 'host');
    expect(t.size).toBe(5);
    expect(t.lookupV4(parseIpv4('10.244.1.7'))).toBe('host');
    expect(t.lookupV4(parseIpv4('10.244.1.8'))).toBe('node1');
    expect(t.lookupV4(parseIpv4('10.244.2.1'))).toBe('cluster');
    expect(t.lookupV4(parseIpv4('10.1.2.3'))).toBe('ten');
    expect(t.lookupV4(parseIpv4('192.168.0.1'))).toBe('default');
    expect(t.lookupV4(0xc0a80001 | 0)).toBe('default'); // a signed int32 reads the same
    const pkt = new Uint8Array(40);
    pkt.set(v4('10.244.1.9'), 17);
    expect(t.lookupV4At(pkt, 17)).toBe('node1');
    expect(t.matchesV4At(pkt, 17, 'node1')).toBe(true);
    expect(t.matchesV4At(pkt, 17, 'cluster')).toBe(false); // covered, but not the longest match
    expect(t.lookupV6At(new Uint8Array(16), 0)).toBeUndefined(); // families are separate
  });

  it('returns undefined with no match and handles an empty table', () => {
    const t = new RouteTable<number>();
    expect(t.lookupV4(0)).toBeUndefined();
    expect(t.lookupV6At(new Uint8Array(16), 0)).toBeUndefined();
    expect(t.matchesV4At(new Uint8Array(4), 0, 1)).toBe(false);
    t.insert(parseCidr('10.244.0.0/16'), 1);
    expect(t.lookupV4(parseIpv4('10.245.0.0'))).toBeUndefined();
    expect(t.lookupV4(parseIpv4('10.244.255.255'))).toBe(1);
  });

  it('finds the longest matching IPv6 prefix in place', () => {
    const t = new RouteTable<string>();
    t.insert(parseCidr('::/0'), 'default');
    t.insert(parseCidr('fd00::/8'), 'ula');
    t.insert(parseCidr('fd00:10:244::/48'), 'cluster');
    t.insert(parseCidr('fd00:10:244:1::/64'), 'node1');
    t.insert(parseCidr('fd00:10:244:1::7/128'), 'host');
    t.insert(parseCidr('fd00:10:244:1:8000::/65'), 'upper-half');
    const pkt = new Uint8Array(64);
    const look = (s: string): string | undefined => {
      pkt.set(parseIpv6(s), 24);
      return t.lookupV6At(pkt, 24);
    };
    expect(look('fd00:10:244:1::7')).toBe('host');
    expect(look('fd00:10:244:1::8')).toBe('node1');
    expect(look('fd00:10:244:1:8000::1')).toBe('upper-half');
    expect(look('fd00:10:244:2::1')).toBe('cluster');
    expect(look('fdff::1')).toBe('ula');
    expect(look('2001:db8::1')).toBe('default');
    pkt.set(parseIpv6('fd00:10:244:1::9'), 8);
    expect(t.matchesV6At(pkt, 8, 'node1')).toBe(true);
    expect(t.matchesV6At(pkt, 8, 'cluster')).toBe(false);
    expect(t.lookupV4(0)).toBeUndefined();
  });

  it('replaces the value of an existing prefix', () => {
    const t = new RouteTable<string>();
    t.insert(parseCidr('10.244.1.0/24'), 'a');
    t.insert(parseCidr('10.244.1.0/24'), 'b');
    expect(t.size).toBe(1);
    expect(t.lookupV4(parseIpv4('10.244.1.1'))).toBe('b');
    expect(t.removeValue('a')).toBe(0);
    t.insert(parseCidr('10.244.1.0/24'), 'b');
    expect(t.size).toBe(1);
  });

  it('ignores host bits of an inserted prefix', () => {
    const t = new RouteTable<string>();
    t.insert({ family: 4, addr: Uint8Array.of(10, 244, 1, 99), bits: 24 }, 'a');
    expect(t.lookupV4(parseIpv4('10.244.1.1'))).toBe('a');
    expect(t.remove(parseCidr('10.244.1.0/24'))).toBe(true);
  });

  it('removes exact prefixes only, and reclaims nodes', () => {
    const t = new RouteTable<string>();
    for (const s of ['10.0.0.0/8', '10.244.0.0/16', '10.244.1.0/24', '10.244.2.0/24', 'fd00::/8', 'fd00:1::/32']) {
      t.insert(parseCidr(s), s);
    }
    expect(t.nodes).toBeLessThanOrEqual(2 * t.size);
    expect(t.remove(parseCidr('10.244.3.0/24'))).toBe(false);
    expect(t.remove(parseCidr('10.244.0.0/17'))).toBe(false);
    expect(t.remove(parseCidr('10.244.0.0/16'))).toBe(true);
    expect(t.remove(parseCidr('10.244.0.0/16'))).toBe(false);
    expect(t.lookupV4(parseIpv4('10.244.9.9'))).toBe('10.0.0.0/8');
    expect(t.lookupV4(parseIpv4('10.244.1.9'))).toBe('10.244.1.0/24');
    for (const e of t.entries()) expect(t.remove(e.cidr)).toBe(true);
    expect(t.size).toBe(0);
    expect(t.nodes).toBe(0);
    expect(t.lookupV4(parseIpv4('10.244.1.9'))).toBeUndefined();
  });

  it('removeValue drops every prefix of a value in both families', () => {
    const peerA = { name: 'a' };
    const peerB = { name: 'b' };
    const t = new RouteTable<{ name: string }>();
    t.insert(parseCidr('10.244.1.0/24'), peerA);
    t.insert(parseCidr('10.244.1.128/25'), peerB);
    t.insert(parseCidr('10.244.1.192/26'), peerA);
    t.insert(parseCidr('fd00:1::/64'), peerA);
    t.insert(parseCidr('fd00:2::/64'), peerB);
    expect(t.removeValue(peerA)).toBe(3);
    expect(t.removeValue(peerA)).toBe(0);
    expect(t.size).toBe(2);
    expect(t.lookupV4(parseIpv4('10.244.1.200'))).toBe(peerB);
    expect(t.lookupV4(parseIpv4('10.244.1.1'))).toBeUndefined();
    expect(t.lookupV6At(parseIpv6('fd00:1::1'), 0)).toBeUndefined();
    expect(t.lookupV6At(parseIpv6('fd00:2::1'), 0)).toBe(peerB);
    expect(t.nodes).toBeLessThanOrEqual(2 * t.size);
  });

  it('lists entries in family, address and length order', () => {
    const t = new RouteTable<number>();
    const order = ['0.0.0.0/0', '10.0.0.0/8', '10.244.0.0/16', '10.244.1.0/24', '192.168.0.0/16', '::/0', 'fd00::/8', 'fd00:1::/32'];
    for (const [i, s] of [...order].reverse().entries()) t.insert(parseCidr(s), i);
    const listed = t.entries();
    expect(listed.map((e) => formatCidr(e.cidr))).toEqual(order);
    expect(listed[0]!.value).toBe(order.length - 1);
  });

  it('refuses malformed prefixes with ADDR_INVALID', () => {
    const t = new RouteTable<number>();
    const bad: Cidr[] = [
      { family: 4, addr: new Uint8Array(16), bits: 8 },
      { family: 6, addr: new Uint8Array(4), bits: 8 },
      { family: 4, addr: new Uint8Array(4), bits: 33 },
      { family: 6, addr: new Uint8Array(16), bits: -1 },
      { family: 4, addr: new Uint8Array(4), bits: 1.5 },
    ];
    for (const c of bad) {
      expect(() => t.insert(c, 1)).toThrow(expect.objectContaining({ code: 'ADDR_INVALID' }));
      let err: unknown;
      try {
        t.remove(c);
      } catch (e) {
        err = e;
      }
      expect(isWeftError(err, 'ADDR_INVALID')).toBe(true);
    }
  });
});

// ---- randomized comparison against a linear-scan reference ----


interface RefEntry {
  cidr: Cidr;
  value: number;
}

function mask(addr: Uint8Array, bits: number): Uint8Array {
  const out = addr.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = bits - i * 8;
    if (keep < 8) out[i] = keep <= 0 ? 0 : out[i]! & (0xff << (8 - keep));
  }
  return out;
}

const keyOf = (c: Cidr): string => `${c.family}/${Buffer.from(c.addr).toString('hex')}/${c.bits}`;

function referenceLookup(ref: Map<string, RefEntry>, family: 4 | 6, addr: Uint8Array): number | undefined {
  let best: RefEntry | undefined;
  for (const e of ref.values()) {
    if (e.cidr.family !== family || !cidrContains(e.cidr, addr)) continue;
    if (best === undefined || e.cidr.bits > best.cidr.bits) best = e;
  }
  return best?.value;
}

function runRandom(seed: number): void {
  const rand = mulberry32(seed);
  const below = (n: number): number => rand() % n;
  const randomBytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => rand() & 0xff);
  // A few base addresses per family, so that random prefixes nest and share paths.
  const bases = { 4: Array.from({ length: 8 }, () => randomBytes(4)), 6: Array.from({ length: 8 }, () => randomBytes(16)) };
  /** An address near a base: a random number of leading bits kept, the rest random. */
  const near = (family: 4 | 6): Uint8Array => {
    const base = bases[family][below(8)]!;
    const out = randomBytes(base.length);
    const keep = below(base.length * 8 + 1);
    for (let i = 0; i < base.length * 8; i++) {
      if (i >= keep) break;
      const bit = 0x80 >> (i & 7);
      out[i >> 3] = (out[i >> 3]! & ~bit) | (base[i >> 3]! & bit);
    }
    return out;
  };
  const table = new RouteTable<number>();
  const ref = new Map<string, RefEntry>();
  const pkt = new Uint8Array(64);
  let lookups = 0;

  const check = (family: 4 | 6, addr: Uint8Array): void => {
    const want = referenceLookup(ref, family, addr);
    const off = 1 + below(40);
    pkt.set(addr, off);
    const got = family === 4 ? table.lookupV4At(pkt, off) : table.lookupV6At(pkt, off);
    if (got !== want) {
      throw new Error(`lookup of ${Buffer.from(addr).toString('hex')} gave ${got}, reference ${want}`);
    }
    if (family === 4) {
      const n = ((addr[0]! << 24) | (addr[1]! << 16) | (addr[2]! << 8) | addr[3]!) >>> 0;
      expect(table.lookupV4(n)).toBe(want);
    }
    const matches = family === 4 ? table.matchesV4At.bind(table) : table.matchesV6At.bind(table);
    if (want !== undefined) expect(matches(pkt, off, want)).toBe(true);
    expect(matches(pkt, off, want === undefined ? 0 : want + 1)).toBe(want === undefined ? false : want + 1 === want);
    lookups++;
  };

  const lookupRound = (count: number): void => {
    const stored = [...ref.values()];
    for (let i = 0; i < count; i++) {
      const family: 4 | 6 = below(2) === 0 ? 4 : 6;
      const len = family === 4 ? 4 : 16;
      const r = below(10);
      let addr: Uint8Array;
      if (r < 5 && stored.length > 0) {
        // Inside (or just past) a stored prefix: its bits, then random host bits.
        const e = stored[below(stored.length)]!;
        addr = randomBytes(e.cidr.addr.length);
        const full = mask(e.cidr.addr, e.cidr.bits);
        for (let j = 0; j < addr.length; j++) {
          const keep = e.cidr.bits - j * 8;
          if (keep >= 8) addr[j] = full[j]!;
          else if (keep > 0) addr[j] = full[j]! | (addr[j]! & (0xff >> keep));
        }
        check(e.cidr.family, addr);
        continue;
      }
      addr = r < 9 ? near(family) : randomBytes(len);
      check(family, addr);
    }
  };

  const ops = 6000;
  for (let op = 0; op < ops; op++) {
    const r = below(100);
    const stored = r >= 70 ? [...ref.values()] : [];
    if (r < 70 || stored.length === 0) {
      const family: 4 | 6 = below(3) === 0 ? 6 : 4;
      const maxBits = family === 4 ? 32 : 128;
      // Mostly mid-length prefixes, some /0 and host routes.
      const bits = below(20) === 0 ? (below(2) === 0 ? 0 : maxBits) : below(maxBits + 1);
      const cidr: Cidr = { family, addr: mask(near(family), bits), bits };
      const value = below(300);
      table.insert(cidr, value);
      ref.set(keyOf(cidr), { cidr, value });
    } else if (r < 80) {
      const e = stored[below(stored.length)]!;
      const value = below(300);
      table.insert(e.cidr, value);
      ref.set(keyOf(e.cidr), { cidr: e.cidr, value });
    } else if (r < 95) {
      const e = stored[below(stored.length)]!;
      expect(table.remove(e.cidr)).toBe(true);
      ref.delete(keyOf(e.cidr));
      expect(table.remove(e.cidr)).toBe(false);
    } else if (r < 98) {
      // A prefix that is probably absent: remove must say false and change nothing.
      const family: 4 | 6 = below(2) === 0 ? 4 : 6;
      const bits = below(family === 4 ? 33 : 129);
      const cidr: Cidr = { family, addr: mask(near(family), bits), bits };
      expect(table.remove(cidr)).toBe(ref.delete(keyOf(cidr)));
    } else {
      const value = stored[below(stored.length)]!.value;
      let want = 0;
      for (const [k, e] of ref) {
        if (e.value === value) {
          ref.delete(k);
          want++;
        }
      }
      expect(table.removeValue(value)).toBe(want);
    }
    expect(table.size).toBe(ref.size);
    if (op % 100 === 99) {
      lookupRound(150);
      expect(table.nodes).toBeLessThanOrEqual(2 * table.size);
    }
  }
  lookupRound(2000);
  if (process.env['WEFT_SEED_STATS'] !== undefined) console.log(`seed ${seed}: ${table.size} prefixes, ${table.nodes} nodes`);

  // entries() lists exactly the reference, then removing everything leaves no nodes.
  const listed = table.entries();
  expect(listed.length).toBe(ref.size);
  for (const e of listed) expect(ref.get(keyOf(e.cidr))?.value).toBe(e.value);
  for (const e of [...ref.values()]) expect(table.remove(e.cidr)).toBe(true);
  expect(table.size).toBe(0);
  expect(table.nodes).toBe(0);
  expect(lookups).toBeGreaterThanOrEqual(10000);
}

describe('RouteTable against a linear-scan reference', () => {
  // Fixed seeds so CI is deterministic. WEFT_SEED=<n> runs one chosen seed;
  // WEFT_SEED=<a>-<b> runs seeds a to b (a local soak).
  const envSeed = process.env['WEFT_SEED'];
  const range = envSeed?.split('-').map(Number);
  const seeds =
    range === undefined ? [1, 2, 3, 0x5eed, 0xdecafbad]
    : range.length === 2 ? Array.from({ length: range[1]! - range[0]! + 1 }, (_, i) => range[0]! + i)
    : [Number(envSeed)];
  it.each(seeds)('agrees on random inserts, replacements, removals and lookups (seed %i)', (seed) => {
    try {
      runRandom(seed);
    } catch (err) {
      console.error(`route-table randomized test failed with seed ${seed}; rerun with WEFT_SEED=${seed}`);
      throw new Error(`seed ${seed}: ${(err as Error).message}`, { cause: err });
    }
  });
});
