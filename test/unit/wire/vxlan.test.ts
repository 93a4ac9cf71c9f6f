import { describe, expect, it } from 'vitest';
import {
  VXLAN_DEFAULT_VNI,
  VXLAN_FLAG_I,
  VXLAN_HEADER_LEN,
  VXLAN_MAX_VNI,
  VXLAN_OVERHEAD_IPV4,
  VXLAN_OVERHEAD_IPV6,
  VXLAN_PORT_IANA,
  VXLAN_PORT_LINUX_FLANNEL,
  VXLAN_VERDICT_NAMES,
  VxlanVerdict,
  checkVxlanHeader,
  readVni,
  writeVxlanHeader,
} from '../../../src/wire/vxlan.ts';

describe('VXLAN header (RFC 7348 section 5)', () => {
  it('has the constants the RFC, IANA and Flannel use', () => {
    expect(VXLAN_HEADER_LEN).toBe(8);
    expect(VXLAN_FLAG_I).toBe(0x08);
    expect(VXLAN_PORT_IANA).toBe(4789);
    expect(VXLAN_PORT_LINUX_FLANNEL).toBe(8472);
    expect(VXLAN_DEFAULT_VNI).toBe(1);
    expect(VXLAN_MAX_VNI).toBe(0xffffff);
    expect(VXLAN_OVERHEAD_IPV4).toBe(50);
    expect(VXLAN_OVERHEAD_IPV6).toBe(70);
  });

  it.each([
    // flags | reserved (24) | VNI (24) | reserved (8)
    [1, [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00]],
    [0, [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]],
    [0xabcdef, [0x08, 0x00, 0x00, 0x00, 0xab, 0xcd, 0xef, 0x00]],
    [0xffffff, [0x08, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x00]],
    [0x010203, [0x08, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x00]],
  ])('writes VNI %i byte for byte, reserved bits zero over old bytes', (vni, expected) => {
    const buf = new Uint8Array(12).fill(0xff);
    expect(writeVxlanHeader(buf, 2, vni)).toBe(2 + VXLAN_HEADER_LEN);
    expect(Array.from(buf.subarray(2, 10))).toEqual(expected);
    expect([buf[0], buf[1], buf[10], buf[11]]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(checkVxlanHeader(buf, 2, VXLAN_HEADER_LEN)).toBe(VxlanVerdict.Ok);
    expect(readVni(buf, 2)).toBe(vni);
  });

  it('says Short for truncated input', () => {
    const buf = new Uint8Array(VXLAN_HEADER_LEN);
    writeVxlanHeader(buf, 0, 1);
    for (let len = 0; len < VXLAN_HEADER_LEN; len++) expect(checkVxlanHeader(buf, 0, len)).toBe(VxlanVerdict.Short);
    expect(checkVxlanHeader(buf, 1, VXLAN_HEADER_LEN)).toBe(VxlanVerdict.Short); // len past the buffer
  });

  it('says BadFlags when the I flag is clear', () => {
    for (const flags of [0x00, 0xf7, 0x80, 0x0c & ~VXLAN_FLAG_I]) {
      const buf = Uint8Array.of(flags, 0, 0, 0, 0, 0, 1, 0);
      expect(checkVxlanHeader(buf, 0, 8)).toBe(VxlanVerdict.BadFlags);
    }
  });

  it('ignores reserved bits on receipt, as the RFC says (Linux would drop these)', () => {
    const buf = Uint8Array.of(0xff, 0x12, 0x34, 0x56, 0x00, 0x00, 0x2a, 0x99);
    expect(checkVxlanHeader(buf, 0, 8)).toBe(VxlanVerdict.Ok);
    expect(readVni(buf, 0)).toBe(42);
  });

  it('names every verdict', () => {
    expect(VXLAN_VERDICT_NAMES.length).toBe(Object.keys(VxlanVerdict).length);
  });
});
