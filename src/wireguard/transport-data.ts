/**
 * Transport data messages (whitepaper 5.4.6), sealed and opened in place in
 * ring slots:
 *
 *   type 4 (1) | reserved 0 (3) | receiver index LE (4) | counter LE (8) | ChaCha20-Poly1305(packet || zero padding) | tag (16)
 *
 * Seal: pad the IP packet with zeros to a multiple of 16 bytes (not past the
 * MTU) in the tailroom, encrypt it over itself, put the tag behind it, and
 * write the 16-byte header into the headroom. Open is the reverse, and trims
 * the padding by the inner IP header's own length. A plaintext of zero bytes
 * is a keepalive. Nothing here allocates.
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import { openInPlace, sealInPlace, TAG_LEN } from '../crypto/aead.ts';
import type { AeadViews } from '../crypto/aead.ts';
import { checkIpPacket, IpVerdict, ipPacketLength } from '../wire/ip.ts';
import type { Keypair } from './keypair.ts';
import {
  MessageType,
  TRANSPORT_HEADER_LEN,
  TRANSPORT_MIN_LEN,
  readCounterHi,
  readCounterLo,
  writeTransportHeader,
} from './messages.ts';

export { TRANSPORT_HEADER_LEN, TRANSPORT_MIN_LEN };
export const MESSAGE_TRANSPORT = MessageType.Transport;

/** Outer IPv4 (20) + UDP (8) + header (16) + tag (16), before padding. */
export const WIREGUARD_OVERHEAD_IPV4 = 20 + 8 + TRANSPORT_MIN_LEN;

/** What sealing did. */
export const SealResult = {
  Ok: 0,
  /** The slot has too little headroom or tailroom (a ring configured too small). */
  NoRoom: 1,
  /** The keypair has sent REJECT_AFTER_MESSAGES messages. */
  CounterExhausted: 2,
} as const;
export type SealResult = (typeof SealResult)[keyof typeof SealResult];

/** What opening found. */
export const OpenResult = {
  /** An IP packet, trimmed to its own length, now at ring.offset/length. */
  Packet: 0,
  /** An authenticated keepalive (no payload). */
  Keepalive: 1,
  /** Shorter than a header and a tag. */
  Short: 2,
  /** Counter already seen or too old. */
  Replay: 3,
  /** The tag did not verify (wrong key, tampered, or forged). */
  BadAuth: 4,
  /** Authenticated, but the payload is not a well-formed IP packet. */
  BadIp: 5,
} as const;
export type OpenResult = (typeof OpenResult)[keyof typeof OpenResult];

const TWO_32 = 2 ** 32;
/** The largest counter we send on: REJECT_AFTER_MESSAGES, kept exact as a float bound. */
const LAST_COUNTER = 2 ** 64 - 2 ** 13 - 2;

/** Plaintext length after WireGuard's padding: a multiple of 16, but never past the MTU. */
export function paddedLength(len: number, mtu: number): number {
  const padded = (len + 15) & ~15;
  return padded > mtu && len <= mtu ? mtu : padded;
}

/**
 * Encrypt the IP packet in `slot` (or an empty keepalive) for `keypair`, in
 * place. On Ok the slot holds the whole transport message.
 */
export function sealTransport(ring: PacketRing, slot: number, keypair: Keypair, mtu: number, views?: AeadViews): SealResult {
  const counter = keypair.sendCounter;
  if (counter > LAST_COUNTER) return SealResult.CounterExhausted;
  const bytes = ring.bytes;
  const off = ring.offset[slot]!;
  const len = ring.length[slot]!;
  const padded = paddedLength(len, mtu);
  if (ring.tailroomOf(slot) < padded - len + TAG_LEN || ring.headroomOf(slot) < TRANSPORT_HEADER_LEN) return SealResult.NoRoom;
  keypair.sendCounter = counter + 1;
  bytes.fill(0, off + len, off + padded);
  const lo = counter % TWO_32;
  const hi = Math.floor(counter / TWO_32);
  sealInPlace(bytes, off, padded, keypair.sendKey, lo, hi, views, slot);
  const h = off - TRANSPORT_HEADER_LEN;
  writeTransportHeader(bytes, h, keypair.remoteIndex, lo, hi);
  ring.offset[slot] = h;
  ring.length[slot] = TRANSPORT_HEADER_LEN + padded + TAG_LEN;
  return SealResult.Ok;
}

/** The counter of the transport message at `off` (exact below 2^53). */
export function readCounter(bytes: Uint8Array, off: number): number {
  return readCounterLo(bytes, off) + readCounterHi(bytes, off) * TWO_32;
}

/**
 * Authenticate and decrypt the transport message in `slot` with `keypair`
 * (found by the caller from the receiver index). The replay window moves
 * only for a message that authenticated.
 */
export function openTransport(ring: PacketRing, slot: number, keypair: Keypair, views?: AeadViews): OpenResult {
  const bytes = ring.bytes;
  const off = ring.offset[slot]!;
  const len = ring.length[slot]!;
  if (len < TRANSPORT_MIN_LEN) return OpenResult.Short;
  const lo = readCounterLo(bytes, off);
  const hi = readCounterHi(bytes, off);
  const counter = lo + hi * TWO_32;
  if (!keypair.replay.check(counter)) return OpenResult.Replay;
  const body = off + TRANSPORT_HEADER_LEN;
  const plain = openInPlace(bytes, body, len - TRANSPORT_HEADER_LEN, keypair.receiveKey, lo, hi, views, slot);
  if (plain < 0) return OpenResult.BadAuth;
  if (!keypair.replay.update(counter)) return OpenResult.Replay;
  ring.offset[slot] = body;
  ring.length[slot] = plain;
  if (plain === 0) return OpenResult.Keepalive;
  if (checkIpPacket(bytes, body, plain) !== IpVerdict.Ok) return OpenResult.BadIp;
  ring.length[slot] = ipPacketLength(bytes, body);
  return OpenResult.Packet;
}
