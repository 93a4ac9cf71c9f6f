import { describe, expect, it } from 'vitest';
import {
  ARP_LEN,
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ARP_VERDICT_NAMES,
  ArpVerdict,
  arpOp,
  arpSenderIp,
  arpSenderMacOffset,
  arpTargetIp,
  arpTargetMacOffset,
  checkArp,
  writeArpReplyInPlace,
  writeArpRequest,
} from '../../../src/wire/arp.ts';
import { macEquals } from '../../../src/wire/ethernet.ts';

const PEER_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0x01);
const OUR_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0x02);
const PEER_IP = 0x0af40000; // 10.244.0.0, the requester's VTEP
const OUR_IP = 0x0af40100; // 10.244.1.0, our VTEP

// "Who has 10.244.1.0? Tell 10.244.0.0", laid out by RFC 826's packet format.
// prettier-ignore
const REQUEST = [
  0x00, 0x01,                         // ar$hrd Ethernet
  0x08, 0x00,                         // ar$pro IPv4
  0x06, 0x04,                         // ar$hln, ar$pln
  0x00, 0x01,                         // ar$op request
  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // ar$sha
  0x0a, 0xf4, 0x00, 0x00,             // ar$spa 10.244.0.0
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ar$tha unknown
  0x0a, 0xf4, 0x01, 0x00,             // ar$tpa 10.244.1.0
];

// The reply: sender and target swapped, our MAC and the asked-for address as sender.
// prettier-ignore
const REPLY = [
  0x00, 0x01, 0x08, 0x00, 0x06, 0x04,
  0x00, 0x02,                         // ar$op reply
  0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // ar$sha ours
  0x0a, 0xf4, 0x01, 0x00,             // ar$spa 10.244.1.0
  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // ar$tha the requester
  0x0a, 0xf4, 0x00, 0x00,             // ar$tpa 10.244.0.0
];

function at(off: number, content: number[], total = off + content.length): Uint8Array {
  const buf = new Uint8Array(total).fill(0x77);
  buf.set(content, off);
  return buf;
}

describe('ARP (RFC 826)', () => {
  it('writes a request byte for byte', () => {
    const buf = new Uint8Array(40).fill(0x77);
    expect(writeArpRequest(buf, 6, PEER_MAC, PEER_IP, OUR_IP)).toBe(ARP_LEN);
    expect(Array.from(buf.subarray(6, 6 + ARP_LEN))).toEqual(REQUEST);
    expect(buf[5]).toBe(0x77);
    expect(buf[6 + ARP_LEN]).toBe(0x77);
  });

  it('reads the fields of a request', () => {
    const buf = at(10, REQUEST);
    expect(checkArp(buf, 10, ARP_LEN)).toBe(ArpVerdict.Ok);
    expect(arpOp(buf, 10)).toBe(ARP_OP_REQUEST);
    expect(arpSenderIp(buf, 10)).toBe(PEER_IP);
    expect(arpTargetIp(buf, 10)).toBe(OUR_IP);
    expect(arpSenderMacOffset(10)).toBe(18);
    expect(arpTargetMacOffset(10)).toBe(28);
    expect(macEquals(buf, arpSenderMacOffset(10), PEER_MAC)).toBe(true);
  });

  it('reads addresses with the high bit set as unsigned', () => {
    const buf = new Uint8Array(ARP_LEN);
    writeArpRequest(buf, 0, PEER_MAC, 0xc0a80001, 0xfffffffe);
    expect(arpSenderIp(buf, 0)).toBe(0xc0a80001);
    expect(arpTargetIp(buf, 0)).toBe(0xfffffffe);
  });

  it('turns a request into its reply in place', () => {
    const buf = at(3, REQUEST, 3 + ARP_LEN + 4);
    expect(writeArpReplyInPlace(buf, 3, OUR_MAC)).toBe(ARP_LEN);
    expect(Array.from(buf.subarray(3, 3 + ARP_LEN))).toEqual(REPLY);
    expect(Array.from(buf.subarray(0, 3))).toEqual([0x77, 0x77, 0x77]);
    expect(Array.from(buf.subarray(3 + ARP_LEN))).toEqual([0x77, 0x77, 0x77, 0x77]);
    expect(checkArp(buf, 3, ARP_LEN)).toBe(ArpVerdict.Ok);
    expect(arpOp(buf, 3)).toBe(ARP_OP_REPLY);
    expect(arpSenderIp(buf, 3)).toBe(OUR_IP);
    expect(arpTargetIp(buf, 3)).toBe(PEER_IP);
    expect(macEquals(buf, arpTargetMacOffset(3), PEER_MAC)).toBe(true);
  });

  it('accepts Ethernet padding after the 28 bytes', () => {
    const buf = at(0, REQUEST, 46);
    expect(checkArp(buf, 0, 46)).toBe(ArpVerdict.Ok);
  });

  it('says Short for truncated input', () => {
    const buf = at(0, REQUEST);
    for (let len = 0; len < ARP_LEN; len++) expect(checkArp(buf, 0, len)).toBe(ArpVerdict.Short);
    // A length that claims more than the buffer holds is also short.
    expect(checkArp(buf, 4, ARP_LEN)).toBe(ArpVerdict.Short);
  });

  it.each([
    ['hardware type 6 (IEEE 802)', 1, 0x06],
    ['protocol type IPv6', 2, 0x86],
    ['hardware length 8', 4, 8],
    ['protocol length 16', 5, 16],
  ])('says Unsupported for %s', (_name, index, byte) => {
    const bytes = REQUEST.slice();
    bytes[index] = byte;
    expect(checkArp(Uint8Array.from(bytes), 0, ARP_LEN)).toBe(ArpVerdict.Unsupported);
  });

  it.each([0, 3, 4, 8, 0x0101])('says BadOp for opcode %i', (op) => {
    const bytes = REQUEST.slice();
    bytes[6] = op >> 8;
    bytes[7] = op & 0xff;
    expect(checkArp(Uint8Array.from(bytes), 0, ARP_LEN)).toBe(ArpVerdict.BadOp);
  });

  it('names every verdict', () => {
    expect(ARP_VERDICT_NAMES.length).toBe(Object.keys(ArpVerdict).length);
  });
});
