/**
 * Well-formed IP packets for tests: headers with correct lengths and
 * checksums, so that whatever a test sees rejected is rejected for the
 * reason the test is about. Every IPv4/IPv6 header, UDP datagram and ICMP
 * echo a test or bench needs is built here (TCP in tcp-packets.ts, on the
 * same IP header); L4 checksums come from src/wire's reference
 * internetChecksum over an explicitly laid-out pseudo-header, independent
 * of the fast sums the code under test uses.
 */
import { parseIpv4, parseIpv6 } from '../../src/wire/addr.ts';
import { internetChecksum, writeIpv4HeaderChecksum } from '../../src/wire/ip.ts';

export const ICMP = 1;
export const TCP = 6;
export const UDP = 17;

/** The IP layer of a test packet; defaults give a plain IPv4 packet, DF set, TTL 64. */
export interface IpSpec {
  version?: 4 | 6;
  /** Default 10.244.1.2 (IPv4) or fd00:1::2 (IPv6). */
  src?: string;
  /** Default 10.244.2.3 (IPv4) or fd00:2::3 (IPv6). */
  dst?: string;
  // IPv4
  id?: number;
  tos?: number;
  ttl?: number;
  df?: boolean;
  /** IPv4 options, a multiple of 4 bytes. */
  ipOptions?: ArrayLike<number>;
  // IPv6
  trafficClass?: number;
  flowLabel?: number;
  hopLimit?: number;
}

/** Length of the IP header `spec` describes. */
export function ipHeaderLengthOf(spec: IpSpec): number {
  return (spec.version ?? 4) === 4 ? 20 + (spec.ipOptions?.length ?? 0) : 40;
}

/**
 * An IP packet of `protocol` carrying `l4` (header and payload, copied as
 * given): lengths set, the IPv4 header checksum valid.
 */
export function ipPacket(spec: IpSpec, protocol: number, l4: ArrayLike<number>): Uint8Array {
  const ipLen = ipHeaderLengthOf(spec);
  const p = new Uint8Array(ipLen + l4.length);
  const v = new DataView(p.buffer);
  if ((spec.version ?? 4) === 4) {
    p[0] = 0x40 | (ipLen >> 2);
    p[1] = spec.tos ?? 0;
    v.setUint16(2, p.length);
    v.setUint16(4, spec.id ?? 1);
    p[6] = spec.df === false ? 0 : 0x40;
    p[8] = spec.ttl ?? 64;
    p[9] = protocol;
    v.setUint32(12, parseIpv4(spec.src ?? '10.244.1.2'));
    v.setUint32(16, parseIpv4(spec.dst ?? '10.244.2.3'));
    p.set(spec.ipOptions ?? [], 20);
    writeIpv4HeaderChecksum(p, 0);
  } else {
    v.setUint32(0, ((6 << 28) | ((spec.trafficClass ?? 0) << 20) | (spec.flowLabel ?? 0)) >>> 0);
    v.setUint16(4, p.length - 40);
    p[6] = protocol;
    p[7] = spec.hopLimit ?? 64;
    p.set(parseIpv6(spec.src ?? 'fd00:1::2'), 8);
    p.set(parseIpv6(spec.dst ?? 'fd00:2::3'), 24);
  }
  p.set(l4, ipLen);
  return p;
}

/** Length of the IP header of `pkt` (IPv4 IHL, or IPv6's fixed 40). */
export function ipHeaderLength(pkt: Uint8Array): number {
  return pkt[0]! >> 4 === 4 ? (pkt[0]! & 0x0f) * 4 : 40;
}

/** The pseudo-header (RFC 9293 §3.1 / RFC 8200 §8.1) of an IP packet, as bytes. */
export function pseudoHeader(pkt: Uint8Array, protocol: number, l4Length: number): Uint8Array {
  if (pkt[0]! >> 4 === 4) {
    const p = new Uint8Array(12);
    p.set(pkt.subarray(12, 20), 0);
    p[9] = protocol;
    p[10] = l4Length >> 8;
    p[11] = l4Length & 0xff;
    return p;
  }
  const p = new Uint8Array(40);
  p.set(pkt.subarray(8, 40), 0);
  new DataView(p.buffer).setUint32(32, l4Length);
  p[39] = protocol;
  return p;
}

/** The L4 checksum of `pkt` computed from scratch (the field itself taken as zero). */
export function trueL4Checksum(pkt: Uint8Array, protocol: number, fieldOffset: number): number {
  const ip = ipHeaderLength(pkt);
  const l4 = pkt.slice(ip);
  l4[fieldOffset] = 0;
  l4[fieldOffset + 1] = 0;
  const all = new Uint8Array([...pseudoHeader(pkt, protocol, l4.length), ...l4]);
  return internetChecksum(all, 0, all.length);
}

/** The folded, uncomplemented pseudo-header sum for `l4Length`: what CHECKSUM_PARTIAL leaves in the field. */
export function partialChecksum(pkt: Uint8Array, protocol: number, l4Length: number): number {
  const ph = pseudoHeader(pkt, protocol, l4Length);
  return ~internetChecksum(ph, 0, ph.length) & 0xffff;
}

export interface UdpSpec extends IpSpec {
  /** Default 5000. */
  srcPort?: number;
  /** Default 6000. */
  dstPort?: number;
  payload?: ArrayLike<number>;
  /** 'valid': the real checksum (0 sent as 0xffff); 'partial': the pseudo-header sum, as with CHECKSUM_PARTIAL; or a number to store (default 0: none, IPv4 only). */
  checksum?: 'valid' | 'partial' | number;
}

/** A UDP datagram over IPv4 or IPv6. */
export function udpDatagram(spec: UdpSpec = {}): Uint8Array {
  const payload = spec.payload ?? [];
  const l4 = new Uint8Array(8 + payload.length);
  const v = new DataView(l4.buffer);
  v.setUint16(0, spec.srcPort ?? 5000);
  v.setUint16(2, spec.dstPort ?? 6000);
  v.setUint16(4, l4.length);
  l4.set(payload, 8);
  const p = ipPacket(spec, UDP, l4);
  const cs = spec.checksum ?? 0;
  const at = ipHeaderLengthOf(spec) + 6;
  const value = cs === 'valid' ? trueL4Checksum(p, UDP, 6) || 0xffff : cs === 'partial' ? partialChecksum(p, UDP, l4.length) : cs;
  new DataView(p.buffer).setUint16(at, value);
  return p;
}

/** An IPv4/UDP packet from src:5000 to dst:6000 carrying `payload`, no UDP checksum. */
export function udpPacket(src: string, dst: string, payload: ArrayLike<number>): Uint8Array {
  return udpDatagram({ src, dst, payload });
}

/** An ICMP echo request (type 8) or reply (type 0) over IPv4, checksums valid. */
export function icmpEcho(spec: IpSpec & { type?: 0 | 8; ident?: number; seq?: number; payload?: ArrayLike<number> } = {}): Uint8Array {
  const payload = spec.payload ?? [];
  const l4 = new Uint8Array(8 + payload.length);
  const v = new DataView(l4.buffer);
  l4[0] = spec.type ?? 8;
  v.setUint16(4, spec.ident ?? 1);
  v.setUint16(6, spec.seq ?? 0);
  l4.set(payload, 8);
  v.setUint16(2, internetChecksum(l4, 0, l4.length));
  return ipPacket(spec, ICMP, l4);
}
