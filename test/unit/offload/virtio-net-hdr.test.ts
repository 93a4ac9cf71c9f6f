import { describe, expect, it } from 'vitest';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VNET_HDR_LEN,
  vnetCsumOffset,
  vnetCsumStart,
  vnetFlags,
  vnetGsoSize,
  vnetGsoType,
  vnetHdrLen,
  writeVnetHdr,
  writeVnetHdrNone,
} from '../../../src/offload/virtio-net-hdr.ts';

describe('virtio_net_hdr', () => {
  it('is 10 bytes: two u8 then four little-endian u16', () => {
    expect(VNET_HDR_LEN).toBe(10);
    const b = new Uint8Array(14).fill(0xee);
    writeVnetHdr(b, 2, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 0x0034, 0x05a8, 0x0014, 0x0010);
    expect(Array.from(b)).toEqual([0xee, 0xee, 0x01, 0x81, 0x34, 0x00, 0xa8, 0x05, 0x14, 0x00, 0x10, 0x00, 0xee, 0xee]);
    expect(vnetFlags(b, 2)).toBe(1);
    expect(vnetGsoType(b, 2)).toBe(0x81);
    expect(vnetHdrLen(b, 2)).toBe(52);
    expect(vnetGsoSize(b, 2)).toBe(1448);
    expect(vnetCsumStart(b, 2)).toBe(20);
    expect(vnetCsumOffset(b, 2)).toBe(16);
  });

  it('reads and writes the full u16 range', () => {
    const b = new Uint8Array(10);
    writeVnetHdr(b, 0, 2, 4, 0xffff, 0x8001, 0x0100, 0x00ff);
    expect(Array.from(b)).toEqual([2, 4, 0xff, 0xff, 0x01, 0x80, 0x00, 0x01, 0xff, 0x00]);
    expect([vnetHdrLen(b, 0), vnetGsoSize(b, 0), vnetCsumStart(b, 0), vnetCsumOffset(b, 0)]).toEqual([0xffff, 0x8001, 0x100, 0xff]);
  });

  it('writes an all-zero header for "no offload"', () => {
    const b = new Uint8Array(12).fill(0x77);
    writeVnetHdrNone(b, 1);
    expect(Array.from(b)).toEqual([0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x77]);
  });
});
