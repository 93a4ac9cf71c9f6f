/**
 * Well-formed IP packets for tests: headers with correct lengths and
 * checksums, so that whatever a test sees rejected is rejected for the
 * reason the test is about.
 */
import { parseIpv4 } from '../../src/wire/addr.ts';
import { writeIpv4HeaderChecksum } from '../../src/wire/ip.ts';

/** An IPv4/UDP packet from src:5000 to dst:6000 carrying `payload`. */
export function udpPacket(src: string, dst: string, payload: ArrayLike<number>): Uint8Array {
  const p = new Uint8Array(28 + payload.length);
  const v = new DataView(p.buffer);
  p.set([0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17]);
  v.setUint16(2, p.length);
  v.setUint32(12, parseIpv4(src));
  v.setUint32(16, parseIpv4(dst));
  v.setUint16(20, 5000);
  v.setUint16(22, 6000);
  v.setUint16(24, 8 + payload.length);
  p.set(payload, 28);
  writeIpv4HeaderChecksum(p, 0);
  return p;
}
