/**
 * TCP/IPv4 and TCP/IPv6 packets for the offload tests, built field by field
 * with checksums from src/wire's reference internetChecksum over an
 * explicitly laid-out pseudo-header, so that the code under test (which has
 * its own fast sum) is checked against an independent computation.
 */
import { parseIpv4, parseIpv6 } from '../../src/wire/addr.ts';
import { internetChecksum, writeIpv4HeaderChecksum } from '../../src/wire/ip.ts';

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

export interface TcpSpec {
  version?: 4 | 6;
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  /** TCP options, a multiple of 4 bytes. */
  options?: ArrayLike<number>;
  payload?: ArrayLike<number>;
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
  /** 'valid' (default): the real checksum; 'partial': the pseudo-header sum, as a TSO super-packet from Linux carries; or a number to store. */
  tcpChecksum?: 'valid' | 'partial' | number;
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

function ipHeaderLength(pkt: Uint8Array): number {
  return pkt[0]! >> 4 === 4 ? (pkt[0]! & 0x0f) * 4 : 40;
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

export function trueTcpChecksum(pkt: Uint8Array): number {
  return trueL4Checksum(pkt, 6, 16);
}

/** Does the TCP checksum verify (sum over pseudo-header and segment complements to 0)? */
export function tcpChecksumVerifies(pkt: Uint8Array): boolean {
  const ip = ipHeaderLength(pkt);
  const all = new Uint8Array([...pseudoHeader(pkt, 6, pkt.length - ip), ...pkt.subarray(ip)]);
  return internetChecksum(all, 0, all.length) === 0;
}

/** The folded, uncomplemented pseudo-header sum for `l4Length`: what CHECKSUM_PARTIAL leaves in the field. */
export function partialChecksum(pkt: Uint8Array, protocol: number, l4Length: number): number {
  const ph = pseudoHeader(pkt, protocol, l4Length);
  return ~internetChecksum(ph, 0, ph.length) & 0xffff;
}

export function tcpPacket(spec: TcpSpec = {}): Uint8Array {
  const version = spec.version ?? 4;
  const options = spec.options ?? [];
  const payload = spec.payload ?? [];
  const ipOptions = spec.ipOptions ?? [];
  const ipLen = version === 4 ? 20 + ipOptions.length : 40;
  const tcpLen = 20 + options.length;
  const p = new Uint8Array(ipLen + tcpLen + payload.length);
  const v = new DataView(p.buffer);
  if (version === 4) {
    p[0] = 0x40 | (ipLen >> 2);
    p[1] = spec.tos ?? 0;
    v.setUint16(2, p.length);
    v.setUint16(4, spec.id ?? 0x1234);
    p[6] = spec.df === false ? 0 : 0x40;
    p[8] = spec.ttl ?? 64;
    p[9] = 6;
    v.setUint32(12, parseIpv4(spec.src ?? '10.244.1.2'));
    v.setUint32(16, parseIpv4(spec.dst ?? '10.244.2.3'));
    p.set(ipOptions, 20);
    writeIpv4HeaderChecksum(p, 0);
  } else {
    v.setUint32(0, (6 << 28) | ((spec.trafficClass ?? 0) << 20) | (spec.flowLabel ?? 0));
    v.setUint16(4, p.length - 40);
    p[6] = 6;
    p[7] = spec.hopLimit ?? 64;
    p.set(parseIpv6(spec.src ?? 'fd00:1::2'), 8);
    p.set(parseIpv6(spec.dst ?? 'fd00:2::3'), 24);
  }
  const t = ipLen;
  v.setUint16(t, spec.srcPort ?? 40000);
  v.setUint16(t + 2, spec.dstPort ?? 5201);
  v.setUint32(t + 4, (spec.seq ?? 1000) >>> 0);
  v.setUint32(t + 8, (spec.ack ?? 7777) >>> 0);
  p[t + 12] = (tcpLen / 4) << 4;
  p[t + 13] = spec.flags ?? ACK;
  v.setUint16(t + 14, spec.window ?? 502);
  p.set(options, t + 20);
  p.set(payload, t + tcpLen);
  const cs = spec.tcpChecksum ?? 'valid';
  const value = cs === 'valid' ? trueTcpChecksum(p) : cs === 'partial' ? partialChecksum(p, 6, p.length - ipLen) : cs;
  v.setUint16(t + 16, value);
  return p;
}

/** A UDP packet over IPv4 or IPv6 from port 5000 to 6000, checksum field as given (default: the pseudo-header sum, as with CHECKSUM_PARTIAL). */
export function udpPacket(version: 4 | 6, payload: ArrayLike<number>, checksum?: number): Uint8Array {
  const ipLen = version === 4 ? 20 : 40;
  const p = new Uint8Array(ipLen + 8 + payload.length);
  const v = new DataView(p.buffer);
  if (version === 4) {
    p.set([0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17]);
    v.setUint16(2, p.length);
    v.setUint32(12, parseIpv4('10.244.1.2'));
    v.setUint32(16, parseIpv4('10.244.2.3'));
    writeIpv4HeaderChecksum(p, 0);
  } else {
    p[0] = 0x60;
    v.setUint16(4, p.length - 40);
    p[6] = 17;
    p[7] = 64;
    p.set(parseIpv6('fd00:1::2'), 8);
    p.set(parseIpv6('fd00:2::3'), 24);
  }
  v.setUint16(ipLen, 5000);
  v.setUint16(ipLen + 2, 6000);
  v.setUint16(ipLen + 4, 8 + payload.length);
  p.set(payload, ipLen + 8);
  v.setUint16(ipLen + 6, checksum ?? partialChecksum(p, 17, 8 + payload.length));
  return p;
}

/** Deterministic payload bytes. */
export function payloadOf(n: number, salt = 0): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 131 + salt * 17 + (i >> 8)) & 0xff;
  return p;
}

/**
 * The segments one would build by hand from a super-packet's spec: payload
 * cut into `gso`-byte pieces, sequence and IPv4 id advanced per segment, CWR
 * on the first only, FIN and PSH on the last only, real checksums.
 */
export function segmentsOf(spec: TcpSpec, gso: number): Uint8Array[] {
  const payload = Uint8Array.from(spec.payload ?? []);
  const n = Math.max(1, Math.ceil(payload.length / gso));
  const segs: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    let flags = spec.flags ?? ACK;
    if (i > 0) flags &= ~CWR;
    if (i < n - 1) flags &= ~(FIN | PSH);
    segs.push(
      tcpPacket({
        ...spec,
        seq: ((spec.seq ?? 1000) + i * gso) >>> 0,
        id: ((spec.id ?? 0x1234) + i) & 0xffff,
        flags,
        payload: payload.subarray(i * gso, (i + 1) * gso),
      }),
    );
  }
  return segs;
}
