import { describe, expect, it } from 'vitest';
import { markCongestionExperienced } from '../../../src/wire/ecn.ts';
import { ipv4HeaderChecksumOk } from '../../../src/wire/ip.ts';
import { tcpPacket } from '../../helpers/tcp-packets.ts';

describe('markCongestionExperienced', () => {
  it('marks ECT(0) and ECT(1) IPv4 packets CE and keeps the header checksum valid', () => {
    for (const ect of [1, 2]) {
      for (const dscp of [0x00, 0xb8, 0xfc]) {
        const pkt = tcpPacket({ tos: dscp | ect, id: 0xfff0 + ect });
        expect(markCongestionExperienced(pkt, 0, pkt.length)).toBe(true);
        expect(Array.from(pkt)).toEqual(Array.from(tcpPacket({ tos: dscp | 3, id: 0xfff0 + ect })));
        expect(ipv4HeaderChecksumOk(pkt, 0)).toBe(true);
      }
    }
  });

  it('leaves a Not-ECT packet unchanged (the caller drops it) and an already-CE one as it is', () => {
    const notEct = tcpPacket({ tos: 0xb8 });
    const before = Array.from(notEct);
    expect(markCongestionExperienced(notEct, 0, notEct.length)).toBe(false);
    expect(Array.from(notEct)).toEqual(before);
    const ce = tcpPacket({ tos: 0x03 });
    const ceBefore = Array.from(ce);
    expect(markCongestionExperienced(ce, 0, ce.length)).toBe(true);
    expect(Array.from(ce)).toEqual(ceBefore);
  });

  it('marks IPv6 through the traffic class, whose ECN bits straddle the first two bytes', () => {
    const pkt = tcpPacket({ version: 6, trafficClass: 0xb9 });
    expect(markCongestionExperienced(pkt, 0, pkt.length)).toBe(true);
    expect(Array.from(pkt)).toEqual(Array.from(tcpPacket({ version: 6, trafficClass: 0xbb })));
    const notEct = tcpPacket({ version: 6, trafficClass: 0xb8 });
    expect(markCongestionExperienced(notEct, 0, notEct.length)).toBe(false);
  });

  it('refuses truncated and unknown packets without touching them', () => {
    const pkt = tcpPacket({ tos: 2 });
    expect(markCongestionExperienced(pkt, 0, 19)).toBe(false);
    expect(markCongestionExperienced(pkt, 0, 1)).toBe(false);
    const odd = new Uint8Array(40).fill(0x22);
    expect(markCongestionExperienced(odd, 0, 40)).toBe(false);
    expect(odd.every((b) => b === 0x22)).toBe(true);
  });
});
