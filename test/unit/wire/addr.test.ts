import { describe, expect, it } from 'vitest';
import { isWeftError } from '../../../src/errors.ts';
import {
  cidrContains,
  deriveVtepMac,
  formatCidr,
  formatIpv4,
  formatIpv6,
  formatMac,
  parseCidr,
  parseIpv4,
  parseIpv6,
  parseMac,
} from '../../../src/wire/addr.ts';
import { thrownBy } from '../../helpers/errors.ts';

/** Expect `fn` to throw ADDR_INVALID with a message that quotes `input`. */
function expectInvalid(fn: () => unknown, input: string): void {
  const caught = thrownBy(fn);
  expect(isWeftError(caught, 'ADDR_INVALID'), `no ADDR_INVALID for ${JSON.stringify(input)}`).toBe(true);
  expect((caught as Error).message).toContain(`'${input}'`);
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('IPv4 text', () => {
  it('parses dotted decimal to an unsigned number', () => {
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(parseIpv4('10.244.1.2')).toBe(0x0af40102);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('192.168.0.1')).toBe(0xc0a80001); // high bit set stays positive
  });

  it('formats and round-trips', () => {
    for (const s of ['0.0.0.0', '10.244.1.2', '192.0.2.255', '255.255.255.255']) {
      expect(formatIpv4(parseIpv4(s))).toBe(s);
    }
    expect(formatIpv4(0xc0a80001 | 0)).toBe('192.168.0.1'); // a signed int32 formats the same
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.1000', '01.2.3.4', '1.2.3.04', '0x1.2.3.4', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.-4', '::1'])(
    'refuses %j',
    (s) => expectInvalid(() => parseIpv4(s), s),
  );
});

describe('IPv6 text (RFC 4291 section 2.2)', () => {
  it('parses the full, compressed and mixed forms', () => {
    expect(hex(parseIpv6('2001:db8:0:0:8:800:200c:417a'))).toBe('20010db80000000000080800200c417a');
    expect(hex(parseIpv6('2001:DB8::8:800:200C:417A'))).toBe('20010db80000000000080800200c417a');
    expect(hex(parseIpv6('ff01::101'))).toBe('ff010000000000000000000000000101');
    expect(hex(parseIpv6('::1'))).toBe('00000000000000000000000000000001');
    expect(hex(parseIpv6('::'))).toBe('00000000000000000000000000000000');
    expect(hex(parseIpv6('1::'))).toBe('00010000000000000000000000000000');
    expect(hex(parseIpv6('1:2:3:4:5:6:7::'))).toBe('00010002000300040005000600070000');
    expect(hex(parseIpv6('::2:3:4:5:6:7:8'))).toBe('00000002000300040005000600070008');
    expect(hex(parseIpv6('0:0:0:0:0:0:13.1.68.3'))).toBe('0000000000000000000000000d014403');
    expect(hex(parseIpv6('::ffff:192.0.2.1'))).toBe('00000000000000000000ffffc0000201');
    expect(hex(parseIpv6('::13.1.68.3'))).toBe('0000000000000000000000000d014403');
    expect(hex(parseIpv6('1:2:3:4:5:6:1.2.3.4'))).toBe('00010002000300040005000601020304');
    expect(hex(parseIpv6('fe80::0001:0a'))).toBe('fe80000000000000000000000001000a');
  });

  it.each([
    '', ':', ':::', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8',
    '12345::', 'g::', ':1::', '1::2:', '1:2:3:4:5:6:7:', '1.2.3.4::', '::1.2.3', '::256.1.1.1', '::ffff:1.2.3.4:5',
    '1:2:3:4:5:6:7:1.2.3.4', 'fe80::1%eth0', ' ::1', '10.0.0.1', '[::1]',
  ])('refuses %j', (s) => expectInvalid(() => parseIpv6(s), s));
});

describe('IPv6 formatting (RFC 5952)', () => {
  it.each([
    // 4.1 leading zeros suppressed; 4.3 lowercase
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['2001:DB8:AAAA:BBBB:CCCC:DDDD:EEEE:0001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1'],
    // 4.2.1 "::" shortens as much as possible
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    // 4.2.2 never for a single 16-bit zero group
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // 4.2.3 the longest run; the first of equal runs
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['0:0:1:0:0:0:0:0', '0:0:1::'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['fe80::', 'fe80::'],
    // section 5: IPv4-mapped addresses in mixed notation
    ['::ffff:c000:201', '::ffff:192.0.2.1'],
    // other embedded forms stay hex: only ::ffff:0:0/96 is recognised
    ['::c000:201', '::c000:201'],
    ['64:ff9b::c000:201', '64:ff9b::c000:201'],
  ])('%s -> %s', (input, expected) => {
    expect(formatIpv6(parseIpv6(input), 0)).toBe(expected);
  });

  it('reads at an offset', () => {
    const buf = new Uint8Array(20).fill(0xee);
    buf.set(parseIpv6('2001:db8::1'), 3);
    expect(formatIpv6(buf, 3)).toBe('2001:db8::1');
  });
});

describe('CIDR', () => {
  it('parses both families', () => {
    const v4 = parseCidr('10.244.0.0/16');
    expect(v4.family).toBe(4);
    expect(Array.from(v4.addr)).toEqual([10, 244, 0, 0]);
    expect(v4.bits).toBe(16);
    const v6 = parseCidr('fd00:1::/32');
    expect(v6.family).toBe(6);
    expect(hex(v6.addr)).toBe('fd000001000000000000000000000000');
    expect(v6.bits).toBe(32);
    expect(parseCidr('0.0.0.0/0').bits).toBe(0);
    expect(parseCidr('::/0').bits).toBe(0);
    expect(parseCidr('10.1.2.3/32').bits).toBe(32);
    expect(parseCidr('2001:db8::1/128').bits).toBe(128);
  });

  it('refuses host bits unless strict is false, then masks them', () => {
    expectInvalid(() => parseCidr('10.244.1.2/16'), '10.244.1.2/16');
    expect(() => parseCidr('10.244.1.2/16')).toThrow(/10\.244\.0\.0\/16/);
    expect(() => parseCidr('2001:db8::1/64')).toThrow(/2001:db8::\/64/);
    expect(formatCidr(parseCidr('10.244.1.2/16', { strict: false }))).toBe('10.244.0.0/16');
    expect(formatCidr(parseCidr('10.255.255.255/9', { strict: false }))).toBe('10.128.0.0/9');
    expect(formatCidr(parseCidr('2001:db8:ffff::1/33', { strict: false }))).toBe('2001:db8:8000::/33');
    expect(formatCidr(parseCidr('1.2.3.4/0', { strict: false }))).toBe('0.0.0.0/0');
  });

  it.each(['10.0.0.0', '10.0.0.0/', '/8', '10.0.0.0/33', '10.0.0.0/08', '10.0.0.0/-1', '10.0.0.0/8/8', '10.0.0.0/ 8', 'fd00::/129', '10.0.0/8', 'fd00:::/8', 'x/8'])(
    'refuses %j',
    (s) => expectInvalid(() => parseCidr(s), s),
  );

  it('formats canonically and round-trips', () => {
    for (const s of ['10.244.0.0/16', '0.0.0.0/0', '192.0.2.1/32', 'fd00::/8', '::/0', '2001:db8::1/128', '::ffff:10.0.0.0/104']) {
      expect(formatCidr(parseCidr(s))).toBe(s);
    }
    expect(formatCidr(parseCidr('2001:0DB8:0000::/48'))).toBe('2001:db8::/48');
  });

  it('tests containment, including partial bytes and family', () => {
    const c = parseCidr('10.240.0.0/12');
    expect(cidrContains(c, Uint8Array.of(10, 240, 0, 0))).toBe(true);
    expect(cidrContains(c, Uint8Array.of(10, 255, 255, 255))).toBe(true);
    expect(cidrContains(c, Uint8Array.of(10, 239, 255, 255))).toBe(false);
    expect(cidrContains(c, Uint8Array.of(11, 240, 0, 0))).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0'), Uint8Array.of(1, 2, 3, 4))).toBe(true);
    expect(cidrContains(parseCidr('1.2.3.4/32'), Uint8Array.of(1, 2, 3, 4))).toBe(true);
    expect(cidrContains(parseCidr('1.2.3.4/32'), Uint8Array.of(1, 2, 3, 5))).toBe(false);
    const c6 = parseCidr('2001:db8:8000::/33');
    expect(cidrContains(c6, parseIpv6('2001:db8:ffff::1'))).toBe(true);
    expect(cidrContains(c6, parseIpv6('2001:db8:7fff::1'))).toBe(false);
    expect(cidrContains(parseCidr('::/0'), Uint8Array.of(1, 2, 3, 4))).toBe(false); // wrong family
    expect(cidrContains(c, parseIpv6('::ffff:10.240.0.1'))).toBe(false);
  });
});

describe('MAC addresses', () => {
  it('parses, formats and round-trips', () => {
    expect(Array.from(parseMac('02:42:AC:11:00:02'))).toEqual([0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
    expect(formatMac(parseMac('02:42:AC:11:00:02'))).toBe('02:42:ac:11:00:02');
    const buf = new Uint8Array(10);
    buf.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 2);
    expect(formatMac(buf, 2)).toBe('ff:ff:ff:ff:ff:ff');
  });

  it.each(['', 'aa:bb:cc:dd:ee', 'aa:bb:cc:dd:ee:ff:00', 'aa-bb-cc-dd-ee-ff', 'aabb.ccdd.eeff', 'a:b:c:d:e:f', 'aa:bb:cc:dd:ee:fg', 'aabbccddeeff'])(
    'refuses %j',
    (s) => expectInvalid(() => parseMac(s), s),
  );
});

describe('deriveVtepMac', () => {
  it('is stable, locally administered and unicast', () => {
    const a = deriveVtepMac('node-a');
    expect(a.length).toBe(6);
    expect(hex(deriveVtepMac('node-a'))).toBe(hex(a));
    expect(hex(deriveVtepMac(new TextEncoder().encode('node-a')))).toBe(hex(a));
    expect(hex(deriveVtepMac('node-b'))).not.toBe(hex(a));
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const mac = deriveVtepMac(`node-${i}`);
      expect(mac[0]! & 0x02).toBe(0x02);
      expect(mac[0]! & 0x01).toBe(0);
      seen.add(hex(mac));
    }
    expect(seen.size).toBe(1000);
  });
});
