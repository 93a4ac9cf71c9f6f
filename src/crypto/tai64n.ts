/**
 * TAI64N timestamps (https://cr.yp.to/libtai/tai64.html) as WireGuard's
 * handshake initiation carries them (whitepaper 5.4.2, the encrypted
 * `timestamp` field): 12 bytes, an 8-byte big-endian TAI64 label followed by
 * 4 big-endian bytes of nanoseconds.
 *
 * The responder remembers the greatest timestamp it has accepted from each
 * peer and drops initiations whose timestamp is not greater (whitepaper
 * 5.1): that is what stops a captured initiation from being replayed. So
 * only the order of one sender's timestamps matters, and 12 bytes of
 * big-endian fields compare correctly byte by byte.
 *
 * Label: 2^62 + 10 + Unix seconds, byte for byte what the Linux module and
 * wireguard-go write (the tai64n tools' convention: 10 s of TAI-UTC offset,
 * leap seconds ignored). Matching them keeps timestamps ordered if a key
 * moves from one implementation to another.
 *
 * Whitening: the nanoseconds are rounded down to a multiple of 2^24 ns
 * (about 16.8 ms), as the Linux module and wireguard-go do. A precise clock
 * reading in every initiation is an information leak for nothing: the field
 * is sealed only to the responder's static key (not forward-secret), and
 * fine-grained timer values fingerprint hosts and help timing attacks. The
 * timestamp only has to grow between accepted initiations, and a responder
 * takes at most 50 initiations per second from a peer (20 ms apart); 2^24 ns
 * is the largest power of two below 20 ms, so two initiations that far apart
 * always fall in different buckets and still compare as newer.
 */
import { writeU32BE } from '../bytes/endian.ts';

export const TAI64N_LEN = 12;
/** High 32 bits of the TAI64 label of the Unix epoch: 2^62 / 2^32. */
const LABEL_HI = 0x4000_0000;
/** The 10 s TAI-UTC offset of the tai64n convention that WireGuard implementations follow. */
const TAI_OFFSET_SECONDS = 10;
/** Keep only nanosecond bits at or above 2^24. Nanoseconds are < 2^30, so int32 arithmetic is exact. */
const WHITEN_MASK = ~(2 ** 24 - 1);

/**
 * Write the TAI64N form of Unix time `seconds` + `nanos` at out[off, off+12),
 * exactly, without whitening. seconds: a non-negative integer below 2^53;
 * nanos: 0 ..= 999999999.
 */
export function writeTai64n(out: Uint8Array, off: number, seconds: number, nanos: number): void {
  const s = seconds + TAI_OFFSET_SECONDS;
  writeU32BE(out, off, LABEL_HI + Math.floor(s / 2 ** 32));
  writeU32BE(out, off + 4, s >>> 0);
  writeU32BE(out, off + 8, nanos >>> 0);
}

/** Round nanoseconds down to a multiple of 2^24, as WireGuard does before sending. */
export function whitenNanos(nanos: number): number {
  return nanos & WHITEN_MASK;
}

/**
 * Write the current wall-clock time, whitened, at out[off, off+12).
 * `nowMs` (milliseconds since the Unix epoch) defaults to Date.now(); the
 * clock's millisecond resolution is finer than the 16.8 ms whitening anyway.
 */
export function tai64nNow(out: Uint8Array, off: number, nowMs: number = Date.now()): void {
  const seconds = Math.floor(nowMs / 1000);
  const nanos = Math.floor((nowMs - seconds * 1000) * 1e6);
  writeTai64n(out, off, seconds, whitenNanos(nanos));
}

/** -1, 0 or 1 as the timestamp at a[aOff] is earlier than, equal to or later than the one at b[bOff]. */
export function compareTai64n(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): number {
  for (let i = 0; i < TAI64N_LEN; i++) {
    const x = a[aOff + i]!;
    const y = b[bOff + i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
