/**
 * Senders' addresses as the native receive leaves them (any 16 bytes: the
 * kernel's, or zeros when it named no sender) and endpoints' text as the
 * transport parses it: names match the cold-path formatter exactly, the
 * caches stay bounded, and text that is no address is refused, not thrown.
 */
import { describe, expect, it } from 'vitest';
import { formatIpv6, parseIpv6 } from '../../../src/wire/addr.ts';
import { IPV6_BYTES, Ipv4Family, Ipv6Family, Ipv6Names, formatIpv4, ipv6BytesOf } from '../../../src/transport/address-names.ts';
import { Fuzz } from '../../fuzz/fuzz-helpers.ts';

describe('Ipv6Names', () => {
  it('names random, mapped, zero and all-ones addresses as formatIpv6 does (mapped ones in dotted text), cached and bounded', () => {
    const f = new Fuzz(0x6ad6);
    const names = new Ipv6Names();
    const seen: Uint8Array[] = [];
    for (let n = 0; n < 20_000; n++) {
      // An address at an odd offset of a larger array, as in a batch's array.
      const bytes = new Uint8Array(IPV6_BYTES * 3 + 1);
      const off = 1 + IPV6_BYTES * f.int(3);
      const kind = f.int(6);
      if (kind === 0) bytes.fill(0, off, off + 16); // no sender named: the zero address
      else if (kind === 1) bytes.fill(0xff, off, off + 16);
      else if (kind === 2) {
        bytes[off + 10] = 0xff;
        bytes[off + 11] = 0xff;
        bytes.set(f.bytes(4), off + 12);
      } else if (kind === 3 && seen.length > 0) bytes.set(f.pick(seen), off); // a sender seen before
      else {
        const r = f.bytes(16);
        // Few distinct groups make long zero runs, the formatter's hard case.
        for (let i = 0; i < 16; i++) if (f.chance(0.4)) r[i] = 0;
        bytes.set(r, off);
      }
      seen.push(bytes.slice(off, off + 16));
      const mapped = bytes.subarray(off, off + 12).every((b, i) => b === (i >= 10 ? 0xff : 0));
      const want = mapped ? formatIpv4(((bytes[off + 12]! << 24) | (bytes[off + 13]! << 16) | (bytes[off + 14]! << 8) | bytes[off + 15]!) >>> 0) : formatIpv6(bytes, off);
      expect(names.nameAt(bytes, off)).toBe(want);
      expect(names.cached).toBeLessThanOrEqual(4096);
    }
  });

  it('keeps naming correctly across the reset at its bound, under addresses that differ in one bit', () => {
    const names = new Ipv6Names();
    const bytes = parseIpv6('fd77::');
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5000; i++) {
        bytes[14] = i >> 8;
        bytes[15] = i & 0xff;
        expect(names.nameAt(bytes, 0)).toBe(formatIpv6(bytes));
      }
    }
    expect(names.cached).toBeLessThanOrEqual(4096);
  });
});

describe('endpoint text to native addresses', () => {
  it('IPv6 sockets: IPv6 text as its bytes, IPv4 text as ::ffff:a.b.c.d, anything else refused', () => {
    expect(ipv6BytesOf('fd77::2')).toEqual(parseIpv6('fd77::2'));
    expect(ipv6BytesOf('10.1.2.3')).toEqual(parseIpv6('::ffff:10.1.2.3'));
    for (const bad of ['', 'fe80::1%eth0', '[::1]', '::1:', '1.2.3', '01.2.3.4', 'fd77::2 ', 'x', ':::', '1:2:3:4:5:6:7:8:9']) {
      expect(ipv6BytesOf(bad), bad).toBeNull();
    }
    const fam = new Ipv6Family();
    const addrs = fam.array(2);
    expect(fam.put(addrs, 1, { address: '10.1.2.3', port: 1 })).toBe(true);
    expect(fam.nameAt(addrs, 1)).toBe('10.1.2.3');
    expect(fam.nameAt(addrs, 0)).toBe('::'); // no sender named
    expect(fam.put(addrs, 0, { address: 'fe80::1%lo', port: 1 })).toBe(false);
  });

  it('IPv4 sockets: dotted text only', () => {
    const fam = new Ipv4Family();
    const addrs = fam.array(1);
    expect(fam.put(addrs, 0, { address: '192.168.10.254', port: 1 })).toBe(true);
    expect(addrs[0]).toBe(0xc0a80afe);
    expect(fam.nameAt(addrs, 0)).toBe('192.168.10.254');
    expect(fam.put(addrs, 0, { address: '::ffff:10.0.0.1', port: 1 })).toBe(false);
    expect(fam.put(addrs, 0, { address: 'fd77::1', port: 1 })).toBe(false);
  });
});
