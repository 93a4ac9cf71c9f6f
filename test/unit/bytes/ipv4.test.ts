/** src/bytes/ipv4.ts parseIpv4: -1 for anything but four decimal octets without leading zeros. */
import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../../../src/bytes/ipv4.ts';
import { mulberry32 } from '../../helpers/random.ts';

// The rule the throwing parser in src/wire/addr.ts used before it became a
// wrapper of this one, kept here as the reference.
const REFERENCE_RE = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
function reference(s: string): number {
  const m = REFERENCE_RE.exec(s);
  if (m === null) return -1;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return -1;
    n = n * 256 + octet;
  }
  return n;
}

describe('parseIpv4', () => {
  it('reads dotted decimal as an unsigned number', () => {
    expect(parseIpv4('10.0.0.1')).toBe(0x0a000001);
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('192.0.2.1')).toBe(0xc0000201);
  });

  it('returns -1 for anything else', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.', '.1.2.3', '1..2.3', '256.0.0.1', '01.2.3.4', '1.2.3.00', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', '1.2.3.x', '::1', '1.2.3.4/8', '१.2.3.4']) {
      expect(parseIpv4(bad), bad).toBe(-1);
    }
  });

  it('agrees with the reference on random text (seed 0x1b4)', () => {
    const next = mulberry32(0x1b4);
    const alphabet = '0123456789....12x -';
    for (let r = 0; r < 50000; r++) {
      let s = '';
      if (r % 2 === 0) {
        // Near-addresses: four random octets, then perhaps one character changed.
        s = [next() % 300, next() % 300, next() % 300, next() % 300].map((o) => (next() % 10 === 0 ? `0${o}` : `${o}`)).join('.');
        if (next() % 3 === 0) {
          const at = next() % (s.length + 1);
          s = s.slice(0, at) + alphabet[next() % alphabet.length]! + s.slice(at + (next() & 1));
        }
      } else {
        const n = next() % 18;
        for (let i = 0; i < n; i++) s += alphabet[next() % alphabet.length]!;
      }
      expect(parseIpv4(s), s).toBe(reference(s));
    }
  });
});
