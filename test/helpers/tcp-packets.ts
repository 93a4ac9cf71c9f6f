/**
 * TCP/IPv4 and TCP/IPv6 packets for the offload tests, built field by field
 * with checksums from src/wire's reference internetChecksum over an
 * explicitly laid-out pseudo-header, so that the code under test (which has
 * its own fast sum) is checked against an independent computation.
 */
import { internetChecksum } from '../../src/wire/ip.ts';
import { type IpSpec, TCP, ipHeaderLength, ipHeaderLengthOf, ipPacket, partialChecksum, pseudoHeader, trueL4Checksum, udpDatagram } from './packets.ts';

export { partialChecksum, pseudoHeader, trueL4Checksum };

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

export interface TcpSpec extends IpSpec {
  srcPort?: number;
  dstPort?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  /** TCP options, a multiple of 4 bytes. */
  options?: ArrayLike<number>;
  payload?: ArrayLike<number>;
  /** 'valid' (default): the real checksum; 'partial': the pseudo-header sum, as a TSO super-packet from Linux carries; or a number to store. */
  tcpChecksum?: 'valid' | 'partial' | number;
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

export function tcpPacket(spec: TcpSpec = {}): Uint8Array {
  const options = spec.options ?? [];
  const payload = spec.payload ?? [];
  const tcpLen = 20 + options.length;
  const l4 = new Uint8Array(tcpLen + payload.length);
  const v = new DataView(l4.buffer);
  v.setUint16(0, spec.srcPort ?? 40000);
  v.setUint16(2, spec.dstPort ?? 5201);
  v.setUint32(4, (spec.seq ?? 1000) >>> 0);
  v.setUint32(8, (spec.ack ?? 7777) >>> 0);
  l4[12] = (tcpLen / 4) << 4;
  l4[13] = spec.flags ?? ACK;
  v.setUint16(14, spec.window ?? 502);
  l4.set(options, 20);
  l4.set(payload, tcpLen);
  const p = ipPacket({ ...spec, id: spec.id ?? 0x1234 }, TCP, l4);
  const cs = spec.tcpChecksum ?? 'valid';
  const value = cs === 'valid' ? trueTcpChecksum(p) : cs === 'partial' ? partialChecksum(p, TCP, l4.length) : cs;
  new DataView(p.buffer).setUint16(ipHeaderLengthOf(spec) + 16, value);
  return p;
}

/** A UDP packet over IPv4 or IPv6 from port 5000 to 6000, checksum field as given (default: the pseudo-header sum, as with CHECKSUM_PARTIAL). */
export function udpPacket(version: 4 | 6, payload: ArrayLike<number>, checksum?: number): Uint8Array {
  return udpDatagram({ version, payload, checksum: checksum ?? 'partial' });
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
