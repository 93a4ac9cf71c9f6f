import { describe, expect, it } from 'vitest';
import {
  IpVerdict,
  checkIpPacket,
  internetChecksum,
  ipPacketLength,
  ipVersion,
  ipv4Dst,
  ipv4HeaderChecksumOk,
  ipv4Protocol,
  ipv4Src,
  ipv6Equal,
  isLinkScopedDestination,
  writeIpv4HeaderChecksum,
  IPV6_DST_OFFSET,
  IPV6_SRC_OFFSET,
} from '../../../src/wire/ip.ts';

// An ICMP echo request 10.244.1.2 -> 10.244.2.3, 28 bytes, as `ping -s 0` sends it.
// Header checksum computed by hand: see the checksum test below.
function ipv4Echo(): Uint8Array {
  return Uint8Array.from([
    0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00,
    10, 244, 1, 2, 10, 244, 2, 3,
    0x08, 0x00, 0xf7, 0xfe, 0x00, 0x01, 0x00, 0x00,
  ]);
}

function ipv6Udp(payloadLen: number): Uint8Array {
  const p = new Uint8Array(40 + payloadLen);
  p[0] = 0x60;
  p[4] = payloadLen >> 8;
  p[5] = payloadLen & 0xff;
  p[6] = 17;
  p[7] = 64;
  p.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], IPV6_SRC_OFFSET);
  p.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], IPV6_DST_OFFSET);
  return p;
}

describe('checkIpPacket', () => {
  it('accepts a well-formed IPv4 packet and reads its fields in place', () => {
    const p = ipv4Echo();
    expect(checkIpPacket(p, 0, p.length)).toBe(IpVerdict.Ok);
    expect(ipVersion(p, 0, p.length)).toBe(4);
    expect(ipPacketLength(p, 0)).toBe(28);
    expect(ipv4Src(p, 0)).toBe(0x0af40102);
    expect(ipv4Dst(p, 0)).toBe(0x0af40203);
    expect(ipv4Protocol(p, 0)).toBe(1);
  });

  it('reads at an offset inside a larger buffer', () => {
    const p = ipv4Echo();
    const buf = new Uint8Array(100).fill(0xee);
    buf.set(p, 37);
    expect(checkIpPacket(buf, 37, p.length)).toBe(IpVerdict.Ok);
    expect(ipv4Dst(buf, 37)).toBe(0x0af40203);
  });

  it('accepts trailing padding but reports the declared length', () => {
    const p = new Uint8Array(46);
    p.set(ipv4Echo());
    expect(checkIpPacket(p, 0, 46)).toBe(IpVerdict.Ok);
    expect(ipPacketLength(p, 0)).toBe(28);
  });

  it('rejects empty and truncated input as Short', () => {
    const p = ipv4Echo();
    expect(checkIpPacket(p, 0, 0)).toBe(IpVerdict.Short);
    for (let len = 1; len < 20; len++) expect(checkIpPacket(p, 0, len)).toBe(IpVerdict.Short);
    const v6 = ipv6Udp(8);
    for (let len = 1; len < 40; len++) expect(checkIpPacket(v6, 0, len)).toBe(IpVerdict.Short);
  });

  it('rejects a packet cut short of its declared length', () => {
    const p = ipv4Echo();
    for (let len = 20; len < 28; len++) expect(checkIpPacket(p, 0, len)).toBe(IpVerdict.BadTotalLength);
  });

  it('rejects versions other than 4 and 6', () => {
    const p = ipv4Echo();
    for (const v of [0, 1, 2, 3, 5, 7, 15]) {
      p[0] = (v << 4) | 5;
      expect(checkIpPacket(p, 0, p.length)).toBe(IpVerdict.BadVersion);
    }
  });

  it('rejects IHL below 5 and IHL past the bytes read', () => {
    const p = ipv4Echo();
    for (const ihl of [0, 1, 4]) {
      p[0] = 0x40 | ihl;
      expect(checkIpPacket(p, 0, p.length)).toBe(IpVerdict.BadHeaderLength);
    }
    p[0] = 0x48; // 32-byte header in a 28-byte packet
    expect(checkIpPacket(p, 0, p.length)).toBe(IpVerdict.BadHeaderLength);
  });

  it('rejects a total length smaller than the header', () => {
    const p = ipv4Echo();
    p[2] = 0;
    p[3] = 19;
    expect(checkIpPacket(p, 0, p.length)).toBe(IpVerdict.BadTotalLength);
  });

  it('checks IPv6 payload length against the bytes read', () => {
    const p = ipv6Udp(8);
    expect(checkIpPacket(p, 0, 48)).toBe(IpVerdict.Ok);
    expect(ipPacketLength(p, 0)).toBe(48);
    expect(checkIpPacket(p, 0, 47)).toBe(IpVerdict.BadTotalLength);
    expect(ipv6Equal(p, IPV6_SRC_OFFSET, p, IPV6_DST_OFFSET)).toBe(false);
    expect(ipv6Equal(p, IPV6_SRC_OFFSET, p, IPV6_SRC_OFFSET)).toBe(true);
  });

  it('rejects an IPv6 jumbogram payload length of zero with bytes behind the header', () => {
    const p = ipv6Udp(8);
    p[4] = 0;
    p[5] = 0;
    expect(checkIpPacket(p, 0, 48)).toBe(IpVerdict.BadTotalLength);
    expect(checkIpPacket(p, 0, 40)).toBe(IpVerdict.Ok);
  });

  it('never throws on random bytes', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const buf = new Uint8Array(80);
    const counts = new Map<number, number>();
    for (let i = 0; i < 20000; i++) {
      for (let j = 0; j < buf.length; j++) buf[j] = rnd();
      if (i % 2) buf[0] = (i % 4 === 1 ? 0x45 : 0x60) | (buf[0]! & 0x0f);
      const v = checkIpPacket(buf, 0, rnd() % 81);
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    // All five verdicts show up: the generator reaches every branch.
    expect([...counts.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('checksums', () => {
  it('computes the RFC 1071 example sum', () => {
    // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (before complement).
    const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(internetChecksum(b, 0, b.length)).toBe(~0xddf2 & 0xffff);
  });

  it('pads an odd length with a zero byte', () => {
    const b = Uint8Array.from([0x01, 0x02, 0x03]);
    expect(internetChecksum(b, 0, 3)).toBe(~(0x0102 + 0x0300) & 0xffff);
  });

  it('writes an IPv4 header checksum that verifies, with the expected bytes', () => {
    const p = ipv4Echo();
    expect(ipv4HeaderChecksumOk(p, 0)).toBe(false);
    writeIpv4HeaderChecksum(p, 0);
    // 4500+001c+1234+4000+4001+0af4+0102+0af4+0203 = f03e (no carry); ~f03e = 0fc1
    expect([p[10], p[11]]).toEqual([0x0f, 0xc1]);
    expect(ipv4HeaderChecksumOk(p, 0)).toBe(true);
    p[15] = p[15]! ^ 1;
    expect(ipv4HeaderChecksumOk(p, 0)).toBe(false);
  });
});

describe('isLinkScopedDestination', () => {
  const v4 = (d: number[]) => Uint8Array.from([0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, ...d]);
  const v6 = (d: number[]) => {
    const p = new Uint8Array(40);
    p[0] = 0x60;
    p.set(d, 24);
    return p;
  };
  it('recognises multicast, broadcast and link-local destinations', () => {
    for (const d of [[224, 0, 0, 1], [239, 1, 2, 3], [255, 255, 255, 255], [169, 254, 1, 1]]) expect(isLinkScopedDestination(v4(d), 0), d.join('.')).toBe(true);
    for (const d of [[10, 244, 1, 2], [223, 255, 255, 255], [169, 253, 0, 1]]) expect(isLinkScopedDestination(v4(d), 0), d.join('.')).toBe(false);
    expect(isLinkScopedDestination(v6([0xff, 0x02]), 0)).toBe(true); // ff02::2, router solicitations
    expect(isLinkScopedDestination(v6([0xfe, 0x80]), 0)).toBe(true);
    expect(isLinkScopedDestination(v6([0xfe, 0xbf]), 0)).toBe(true);
    expect(isLinkScopedDestination(v6([0xfe, 0xc0]), 0)).toBe(false); // fec0::/10 is not link-local
    expect(isLinkScopedDestination(v6([0xfd, 0x00]), 0)).toBe(false);
  });
});
