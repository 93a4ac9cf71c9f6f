import { describe, expect, it } from 'vitest';
import {
  ETH_DST_OFFSET,
  ETH_HEADER_LEN,
  ETH_SRC_OFFSET,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  copyMac,
  isBroadcastMac,
  macEquals,
  readEtherType,
  writeEthernetHeader,
} from '../../../src/wire/ethernet.ts';

const DST = Uint8Array.of(0x02, 0x11, 0x22, 0x33, 0x44, 0x55);
const SRC = Uint8Array.of(0x0a, 0xbb, 0xcc, 0xdd, 0xee, 0xff);

describe('Ethernet header', () => {
  it('has the IEEE constants', () => {
    expect(ETH_HEADER_LEN).toBe(14);
    expect(ETHERTYPE_IPV4).toBe(0x0800);
    expect(ETHERTYPE_ARP).toBe(0x0806);
    expect(ETHERTYPE_IPV6).toBe(0x86dd);
  });

  it('writes destination, source and EtherType byte for byte at an offset', () => {
    const buf = new Uint8Array(24).fill(0x5a);
    const next = writeEthernetHeader(buf, 5, DST, SRC, ETHERTYPE_IPV6);
    expect(next).toBe(5 + ETH_HEADER_LEN);
    // prettier-ignore
    expect(Array.from(buf)).toEqual([
      0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
      0x02, 0x11, 0x22, 0x33, 0x44, 0x55, // destination
      0x0a, 0xbb, 0xcc, 0xdd, 0xee, 0xff, // source
      0x86, 0xdd,                         // EtherType, big-endian
      0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
    ]);
    expect(readEtherType(buf, 5)).toBe(ETHERTYPE_IPV6);
  });

  it('round-trips every EtherType it names', () => {
    const buf = new Uint8Array(ETH_HEADER_LEN);
    for (const t of [ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_IPV6, 0xffff, 0]) {
      writeEthernetHeader(buf, 0, DST, SRC, t);
      expect(readEtherType(buf, 0)).toBe(t);
    }
  });

  it('compares, recognises broadcast and copies MACs in place', () => {
    const buf = new Uint8Array(30);
    writeEthernetHeader(buf, 2, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), SRC, ETHERTYPE_ARP);
    expect(isBroadcastMac(buf, 2 + ETH_DST_OFFSET)).toBe(true);
    expect(isBroadcastMac(buf, 2 + ETH_SRC_OFFSET)).toBe(false);
    expect(macEquals(buf, 2 + ETH_SRC_OFFSET, SRC)).toBe(true);
    expect(macEquals(buf, 2 + ETH_SRC_OFFSET, DST)).toBe(false);
    const almost = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xfe);
    buf.set(almost, 20);
    expect(isBroadcastMac(buf, 20)).toBe(false);
    // Swap-style rewrite inside one buffer: destination := old source.
    copyMac(buf, 2 + ETH_DST_OFFSET, buf, 2 + ETH_SRC_OFFSET);
    expect(macEquals(buf, 2 + ETH_DST_OFFSET, SRC)).toBe(true);
    const other = new Uint8Array(8);
    copyMac(other, 1, buf, 2 + ETH_SRC_OFFSET);
    expect(Array.from(other)).toEqual([0, 0x0a, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0]);
  });
});
