/**
 * Neighbour discovery for the VTEP (RFC 4861): which solicitations are
 * answered, and the advertisement written in their place, byte for byte
 * against one built here field by field.
 */
import { describe, expect, it } from 'vitest';
import { parseIpv6, parseMac } from '../../../src/wire/addr.ts';
import { isSolicitationFor, solicitationSourceMac, writeAdvertisementInPlace } from '../../../src/wire/ndp.ts';
import { ipPacket, trueL4Checksum } from '../../helpers/packets.ts';

const OURS = parseIpv6('fd00:10:244:1::');
const ASKER = parseIpv6('fd00:10:244:2::');
const ASKER_MAC = parseMac('0e:00:00:00:00:02');
const OUR_MAC = parseMac('0e:00:00:00:00:01');

/** A neighbour solicitation for `target`, with a correct checksum unless told otherwise. */
function solicitation(o: { target?: Uint8Array; src?: string; hopLimit?: number; withOption?: boolean; code?: number } = {}): Uint8Array {
  const body = [135, o.code ?? 0, 0, 0, 0, 0, 0, 0, ...(o.target ?? OURS)];
  if (o.withOption ?? true) body.push(1, 1, ...ASKER_MAC);
  const pkt = ipPacket({ version: 6, src: o.src ?? 'fd00:10:244:2::', dst: 'ff02::1:ff00:0', hopLimit: o.hopLimit ?? 255 }, 58, body);
  const sum = trueL4Checksum(pkt, 58, 2);
  pkt[42] = sum >> 8;
  pkt[43] = sum & 0xff;
  return pkt;
}

describe('neighbour solicitations for the VTEP', () => {
  it('accepts a valid one, with or without the source link-layer option', () => {
    for (const withOption of [true, false]) {
      const ns = solicitation({ withOption });
      expect(isSolicitationFor(ns, 0, ns.length, OURS)).toBe(true);
    }
  });

  it('refuses another target, duplicate address detection, a hop limit below 255, a bad code or checksum, a zero-length option', () => {
    const bad: Uint8Array[] = [
      solicitation({ target: ASKER }),
      solicitation({ src: '::' }),
      solicitation({ hopLimit: 64 }),
      solicitation({ code: 1 }),
    ];
    const badSum = solicitation();
    badSum[43]! ^= 1;
    bad.push(badSum);
    const zeroOption = solicitation();
    zeroOption[40 + 25] = 0;
    bad.push(zeroOption);
    for (const ns of bad) expect(isSolicitationFor(ns, 0, ns.length, OURS)).toBe(false);
    for (let len = 40; len < 64; len++) expect(isSolicitationFor(solicitation(), 0, len, OURS)).toBe(false);
  });

  it('reads the MAC to answer from the source link-layer option', () => {
    const out = new Uint8Array(6);
    const ns = solicitation();
    expect(solicitationSourceMac(ns, 0, ns.length, out, 0)).toBe(true);
    expect(out).toEqual(ASKER_MAC);
    const bare = solicitation({ withOption: false });
    expect(solicitationSourceMac(bare, 0, bare.length, out, 0)).toBe(false);
  });

  it('becomes the solicited advertisement, in place', () => {
    const buf = new Uint8Array(128);
    buf.set(solicitation({ withOption: false }), 0);
    expect(writeAdvertisementInPlace(buf, 0, OUR_MAC)).toBe(72);
    const expected = ipPacket({ version: 6, src: 'fd00:10:244:1::', dst: 'fd00:10:244:2::', hopLimit: 255 }, 58, [136, 0, 0, 0, 0x60, 0, 0, 0, ...OURS, 2, 1, ...OUR_MAC]);
    const sum = trueL4Checksum(expected, 58, 2);
    expected[42] = sum >> 8;
    expected[43] = sum & 0xff;
    expect(Array.from(buf.subarray(0, 72))).toEqual(Array.from(expected));
  });
});
