/**
 * Address text forms: IPv4 and IPv6 addresses, CIDR prefixes and MAC
 * addresses, plus the derivation of a node's VTEP MAC.
 *
 * Cold path only: these run when configuration, gossip records or the CLI
 * name an address, never per packet, so they may allocate and they throw
 * WeftError('ADDR_INVALID') with the input and the expected form in the
 * message. Packet code reads addresses as bytes in place instead.
 */
import { createHash } from 'node:crypto';
import { parseIpv4 as ipv4Value } from '../bytes/ipv4.ts';
import { WeftError } from '../errors.ts';

export const IPV4_ADDR_LEN = 4;
export const IPV6_ADDR_LEN = 16;
export const MAC_ADDR_LEN = 6;

/** A prefix: `addr` holds 4 (family 4) or 16 (family 6) bytes with the host bits zero. */
export interface Cidr {
  family: 4 | 6;
  addr: Uint8Array;
  bits: number;
}

export interface ParseCidrOptions {
  /** When false, host bits are masked off instead of rejected. Default true. */
  strict?: boolean;
}

const IPV4_FORM = 'dotted decimal like 192.0.2.1';
const IPV6_FORM = 'RFC 4291 text like 2001:db8::1 or ::ffff:192.0.2.1';

function invalid(message: string): WeftError {
  return new WeftError('ADDR_INVALID', message);
}

/**
 * Parse dotted-decimal IPv4 ("192.0.2.1") to an unsigned 32-bit number; the
 * throwing form of src/bytes/ipv4.ts parseIpv4 (ipv4Value here), which
 * refuses leading zeros and returns -1 where this throws.
 */
export function parseIpv4(s: string): number {
  const n = ipv4Value(s);
  if (n < 0) throw invalid(`invalid IPv4 address '${s}': expected ${IPV4_FORM}`);
  return n >>> 0;
}

/** Format an unsigned 32-bit number as dotted decimal. */
export function formatIpv4(n: number): string {
  return `${(n >>> 24) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

const HEX_GROUP_RE = /^[0-9a-fA-F]{1,4}$/;

/**
 * Fill `out` (16 bytes) from RFC 4291 section 2.2 text: eight groups of one
 * to four hex digits, at most one "::" standing for one or more zero groups,
 * and optionally dotted IPv4 in place of the last two groups. Zone indices
 * (fe80::1%eth0, RFC 6874) are not addresses and are refused. False if invalid.
 */
function ipv6Into(s: string, out: Uint8Array): boolean {
  const gap = s.indexOf('::');
  if (gap >= 0 && s.indexOf('::', gap + 1) >= 0) return false;
  const head: number[] = [];
  const tail: number[] = [];
  if (gap < 0) {
    if (!groupsInto(s.split(':'), true, head) || head.length !== 8) return false;
  } else {
    const headText = s.slice(0, gap);
    const tailText = s.slice(gap + 2);
    if (headText !== '' && !groupsInto(headText.split(':'), false, head)) return false;
    if (tailText !== '' && !groupsInto(tailText.split(':'), true, tail)) return false;
    if (head.length + tail.length > 7) return false;
  }
  out.fill(0);
  const tailStart = 8 - tail.length;
  for (let i = 0; i < head.length; i++) writeGroup(out, i, head[i]!);
  for (let i = 0; i < tail.length; i++) writeGroup(out, tailStart + i, tail[i]!);
  return true;
}

/** Append each part's 16-bit groups; a dotted IPv4 last part (when allowed) gives two. */
function groupsInto(parts: string[], lastMayBeV4: boolean, out: number[]): boolean {
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (HEX_GROUP_RE.test(part)) {
      out.push(parseInt(part, 16));
      continue;
    }
    const v4 = lastMayBeV4 && i === parts.length - 1 ? ipv4Value(part) : -1;
    if (v4 < 0) return false;
    out.push(v4 >>> 16, v4 & 0xffff);
  }
  return true;
}

function writeGroup(out: Uint8Array, index: number, group: number): void {
  out[index * 2] = group >> 8;
  out[index * 2 + 1] = group & 0xff;
}

/** Parse RFC 4291 IPv6 text to 16 bytes. */
export function parseIpv6(s: string): Uint8Array {
  const out = new Uint8Array(IPV6_ADDR_LEN);
  if (!ipv6Into(s, out)) throw invalid(`invalid IPv6 address '${s}': expected ${IPV6_FORM}`);
  return out;
}

/**
 * Format the 16 bytes at `off` in the RFC 5952 canonical form: lowercase hex
 * without leading zeros (4.1, 4.3), "::" for the longest run of two or more
 * zero groups, the first such run on a tie, never for a single group (4.2),
 * and IPv4-mapped addresses (::ffff:0:0/96) in mixed notation (section 5).
 */
export function formatIpv6(bytes: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((bytes[off + 2 * i]! << 8) | bytes[off + 2 * i + 1]!);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${bytes[off + 12]}.${bytes[off + 13]}.${bytes[off + 14]}.${bytes[off + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 1; // a run must be longer than this to be shortened
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Zero every bit of `addr` past the first `bits`. */
function maskInPlace(addr: Uint8Array, bits: number): void {
  for (let i = 0; i < addr.length; i++) {
    const keep = bits - i * 8;
    if (keep >= 8) continue;
    addr[i] = keep <= 0 ? 0 : addr[i]! & (0xff << (8 - keep));
  }
}

function ipv4Bytes(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

const PREFIX_LEN_RE = /^(0|[1-9]\d{0,2})$/;

/**
 * Parse "192.0.2.0/24" or "2001:db8::/32". The prefix length is required: a
 * bare address is refused rather than guessed to be a host route. With
 * `strict` (the default) host bits must be zero, because "10.1.2.3/16" in a
 * config file is more likely a typo than a wish for 10.1.0.0/16.
 */
export function parseCidr(s: string, options?: ParseCidrOptions): Cidr {
  const form = `a prefix like 10.244.0.0/16 or fd00::/8`;
  const slash = s.indexOf('/');
  if (slash < 0 || slash !== s.lastIndexOf('/')) {
    throw invalid(`invalid CIDR '${s}': expected ${form} (address, '/', prefix length)`);
  }
  const addrText = s.slice(0, slash);
  const lenText = s.slice(slash + 1);
  let family: 4 | 6;
  let addr: Uint8Array;
  if (addrText.includes(':')) {
    family = 6;
    addr = new Uint8Array(IPV6_ADDR_LEN);
    if (!ipv6Into(addrText, addr)) throw invalid(`invalid CIDR '${s}': '${addrText}' is not ${IPV6_FORM}`);
  } else {
    family = 4;
    const n = ipv4Value(addrText);
    if (n < 0) throw invalid(`invalid CIDR '${s}': '${addrText}' is not ${IPV4_FORM}`);
    addr = ipv4Bytes(n);
  }
  const maxBits = family === 4 ? 32 : 128;
  const bits = PREFIX_LEN_RE.test(lenText) ? Number(lenText) : -1;
  if (bits < 0 || bits > maxBits) {
    throw invalid(`invalid CIDR '${s}': prefix length '${lenText}' must be a decimal from 0 to ${maxBits}`);
  }
  const masked = addr.slice();
  maskInPlace(masked, bits);
  if (options?.strict !== false && !bytesEqual(masked, addr)) {
    const fixed = formatCidr({ family, addr: masked, bits });
    throw invalid(`invalid CIDR '${s}': host bits are set; expected ${fixed} (or parse with { strict: false } to mask them)`);
  }
  return { family, addr: masked, bits };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** "address:port", an IPv6 address in brackets ("[fd00::2]:8472"), as endpoints are written. */
export function endpointText(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** "10.244.0.0/16", "fd00::/8": the address in its canonical form. */
export function formatCidr(cidr: Cidr): string {
  const a = cidr.addr;
  const text = cidr.family === 4 ? `${a[0]}.${a[1]}.${a[2]}.${a[3]}` : formatIpv6(a, 0);
  return `${text}/${cidr.bits}`;
}

/**
 * Whether the address in `addr` (4 bytes for IPv4, 16 for IPv6) lies inside
 * `cidr`. An address of the other family, or of any other length, is not inside.
 */
export function cidrContains(cidr: Cidr, addr: Uint8Array): boolean {
  if (addr.length !== (cidr.family === 4 ? IPV4_ADDR_LEN : IPV6_ADDR_LEN)) return false;
  const full = cidr.bits >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== cidr.addr[i]) return false;
  const rest = cidr.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (addr[full]! & mask) === (cidr.addr[full]! & mask);
}

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** Parse "aa:bb:cc:dd:ee:ff" (IEEE 802 colon form, either case) to 6 bytes. */
export function parseMac(s: string): Uint8Array {
  if (!MAC_RE.test(s)) {
    throw invalid(`invalid MAC address '${s}': expected six two-digit hex octets separated by colons, like 02:42:ac:11:00:02`);
  }
  const out = new Uint8Array(MAC_ADDR_LEN);
  for (let i = 0; i < MAC_ADDR_LEN; i++) out[i] = parseInt(s.slice(i * 3, i * 3 + 2), 16);
  return out;
}

/** Format the 6 bytes at `off` as lowercase "aa:bb:cc:dd:ee:ff". */
export function formatMac(bytes: Uint8Array, off = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < MAC_ADDR_LEN; i++) parts.push(bytes[off + i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** Domain separation, so that the same identity hashed for another purpose never gives these bytes. */
const VTEP_MAC_CONTEXT = 'weft vtep mac v1\0';

/**
 * A stable MAC for this node's VTEP, derived from its identity (node name or
 * public key). Stable so that a restart does not force every peer to rewrite
 * its neighbour and FDB entries; derived by SHA-256 so that two nodes collide
 * only with probability 2^-46. IEEE 802 (section 8.2 of 802-2014): bit 0x02
 * of the first octet set marks a locally administered address, so it cannot
 * clash with a vendor-assigned one; bit 0x01 clear makes it unicast.
 */
export function deriveVtepMac(identity: Uint8Array | string): Uint8Array {
  const h = createHash('sha256').update(VTEP_MAC_CONTEXT);
  if (typeof identity === 'string') h.update(identity, 'utf8');
  else h.update(identity);
  const mac = new Uint8Array(h.digest().subarray(0, MAC_ADDR_LEN));
  mac[0] = (mac[0]! | 0x02) & 0xfe;
  return mac;
}
