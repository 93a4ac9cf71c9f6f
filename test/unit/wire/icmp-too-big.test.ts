import { describe, expect, it } from 'vitest';
import { internetChecksum } from '../../../src/wire/ip.ts';
import { writeTooBig } from '../../../src/wire/icmp-too-big.ts';
import { udpPacket } from '../../helpers/packets.ts';


function v6Packet(len: number, nextHeader = 17, firstPayloadByte = 0): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x60;
  p[4] = (len - 40) >> 8;
  p[5] = (len - 40) & 0xff;
  p[6] = nextHeader;
  p[7] = 64;
  p.set([0xfd, 0, 0, 0x10, 2, 0x44, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5], 8); // src fd00:10:244:1::5
  p.set([0xfd, 0, 0, 0x10, 2, 0x44, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7], 24); // dst fd00:10:244:2::7
  for (let i = 40; i < len; i++) p[i] = i & 0xff;
  p[40] = firstPayloadByte;
  return p;
}

describe('ICMP "packet too big" answers, built in place', () => {
  it('IPv4 with DF: type 3 code 4 from the destination to the sender, next-hop MTU, 548 bytes of the packet quoted, checksums valid', () => {
    const original = udpPacket('10.244.1.5', '10.244.2.7', new Uint8Array(1472).map((_, i) => i & 0xff));
    const buf = new Uint8Array(2000);
    buf.set(original, 100);
    const n = writeTooBig(buf, 100, original.length, 1450);
    expect(n).toBe(576);
    const a = buf.subarray(100, 100 + n);
    expect(Array.from(a.subarray(0, 20))).toEqual([
      0x45, 0xc0, 0x02, 0x40, 0, 0, 0, 0, 64, 1, a[10], a[11], 10, 244, 2, 7, 10, 244, 1, 5,
    ]);
    expect(internetChecksum(a, 0, 20)).toBe(0);
    expect(Array.from(a.subarray(20, 28))).toEqual([3, 4, a[22], a[23], 0, 0, 1450 >> 8, 1450 & 0xff]);
    expect(internetChecksum(a, 20, n - 20)).toBe(0);
    expect(Array.from(a.subarray(28))).toEqual(Array.from(original.subarray(0, 548)));
    // Nothing outside the answer was touched.
    expect(buf.subarray(0, 100).every((b) => b === 0)).toBe(true);
  });

  it('IPv4 without DF gets no answer (a router may fragment it) and is left as it was', () => {
    const p = udpPacket('10.244.1.5', '10.244.2.7', new Uint8Array(1472));
    p[6] = 0;
    const copy = Uint8Array.from(p);
    expect(writeTooBig(p, 0, p.length, 1450)).toBe(0);
    expect(p).toEqual(copy);
  });

  it('never answers an ICMP error with another, nor an unanswerable source', () => {
    const err = udpPacket('10.244.1.5', '10.244.2.7', new Uint8Array(1472));
    err[9] = 1; // ICMP
    err[20] = 3; // destination unreachable
    expect(writeTooBig(err, 0, err.length, 1450)).toBe(0);
    const echo = Uint8Array.from(err);
    echo[20] = 8; // an echo request is answered
    expect(writeTooBig(echo, 0, echo.length, 1450)).toBe(576);
    const multicastSrc = udpPacket('224.0.0.5', '10.244.2.7', new Uint8Array(1472));
    expect(writeTooBig(multicastSrc, 0, multicastSrc.length, 1450)).toBe(0);
    expect(writeTooBig(v6Packet(1500, 58, 1), 0, 1500, 1430)).toBe(0); // ICMPv6 destination unreachable
  });

  it('IPv6: type 2 with a 32-bit MTU, source and destination swapped, within 1280 bytes, pseudo-header checksum valid', () => {
    const original = v6Packet(1500);
    const buf = Uint8Array.from(original);
    const n = writeTooBig(buf, 0, 1500, 1430);
    expect(n).toBe(1280);
    expect(Array.from(buf.subarray(0, 8))).toEqual([0x60, 0, 0, 0, (1240 >> 8), 1240 & 0xff, 58, 64]);
    expect(Array.from(buf.subarray(8, 24))).toEqual(Array.from(original.subarray(24, 40)));
    expect(Array.from(buf.subarray(24, 40))).toEqual(Array.from(original.subarray(8, 24)));
    expect(Array.from(buf.subarray(40, 48))).toEqual([2, 0, buf[42], buf[43], 0, 0, 1430 >> 8, 1430 & 0xff]);
    // Checksum over the pseudo-header (addresses, length, next header 58) and the message is zero.
    let pseudo = 1240 + 58;
    for (let i = 8; i < 40; i += 2) pseudo += (buf[i]! << 8) | buf[i + 1]!;
    expect(internetChecksum(buf, 40, 1240, pseudo)).toBe(0);
    expect(Array.from(buf.subarray(48, 1280))).toEqual(Array.from(original.subarray(0, 1232)));
  });
});
