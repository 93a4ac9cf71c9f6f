/**
 * WireGuard's four message layouts (whitepaper 5.4.2-5.4.7, wireguard.com/protocol)
 * as named sizes and offsets, plus the verdict codes every consumer of wire
 * input returns.
 *
 * Every message starts with a one-byte type and three reserved zero bytes
 * (the whitepaper draws them as `type := n (1 byte), reserved := 0^3`), so
 * the first four bytes read as a little-endian uint32 equal the type: that
 * is how a receiver classifies a datagram in one load. Indices and the
 * transport counter are little-endian; the TAI64N timestamp inside the
 * sealed field is big-endian, but that is tai64n.ts's business.
 *
 *   initiation (148): type 1 | sender 4 | ephemeral 32 | static 32+16 | timestamp 12+16 | mac1 16 | mac2 16
 *   response    (92): type 2 | sender 4 | receiver 4 | ephemeral 32 | empty 0+16 | mac1 16 | mac2 16
 *   cookie      (64): type 3 | receiver 4 | nonce 24 | cookie 16+16
 *   transport  (16+): type 4 | receiver 4 | counter 8 | packet (padded to 16) + 16
 *
 * The layouts live here, next to the protocol engine that uses them, rather
 * than in src/wire: noise.ts and cookie.ts are their only users so far, and
 * the transport path (which will want them in src/wire for the hot path
 * codecs) does not exist yet.
 */
import { readU32LE, writeU32LE } from '../bytes/endian.ts';

export const MessageType = {
  Initiation: 1,
  Response: 2,
  CookieReply: 3,
  Transport: 4,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** The fields every message shares. */
export const TYPE_OFFSET = 0;
/** First index field (sender for types 1-2, receiver for 3-4). */
export const INDEX_OFFSET = 4;

// Sealed field sizes: AEAD ciphertext is plaintext + a 16-byte Poly1305 tag.
export const KEY_LEN = 32;
export const TAG_LEN = 16;
export const MAC_LEN = 16;
export const TIMESTAMP_LEN = 12;
export const COOKIE_LEN = 16;
export const COOKIE_NONCE_LEN = 24;

// Handshake initiation (type 1).
export const INIT_SENDER = 4;
export const INIT_EPHEMERAL = 8;
export const INIT_STATIC = 40;
export const INIT_STATIC_LEN = KEY_LEN + TAG_LEN; // 48
export const INIT_TIMESTAMP = 88;
export const INIT_TIMESTAMP_LEN = TIMESTAMP_LEN + TAG_LEN; // 28
export const INIT_MAC1 = 116;
export const INIT_MAC2 = 132;
export const INIT_LEN = 148;

// Handshake response (type 2).
export const RESP_SENDER = 4;
export const RESP_RECEIVER = 8;
export const RESP_EPHEMERAL = 12;
export const RESP_EMPTY = 44;
export const RESP_EMPTY_LEN = TAG_LEN; // sealed empty plaintext: the tag alone
export const RESP_MAC1 = 60;
export const RESP_MAC2 = 76;
export const RESP_LEN = 92;

// Cookie reply (type 3).
export const COOKIE_RECEIVER = 4;
export const COOKIE_NONCE = 8;
export const COOKIE_SEALED = 32;
export const COOKIE_SEALED_LEN = COOKIE_LEN + TAG_LEN; // 32
export const COOKIE_REPLY_LEN = 64;

// Transport data (type 4).
export const TRANSPORT_RECEIVER = 4;
export const TRANSPORT_COUNTER = 8;
export const TRANSPORT_HEADER_LEN = 16;
/** The smallest transport message: a header and the tag of an empty (keepalive) packet. */
export const TRANSPORT_MIN_LEN = TRANSPORT_HEADER_LEN + TAG_LEN;
/** Plaintext is zero-padded to a multiple of this before sealing (whitepaper 5.4.6). */
export const TRANSPORT_PADDING = 16;

/**
 * What consuming a message concluded. Wire input never throws: every failure
 * is one of these small integers (counted by reason by the caller), and the
 * handshake state is unchanged by any verdict but Ok.
 */
export const Verdict = {
  Ok: 0,
  /** Wrong length for its type. */
  BadLength: 1,
  /** Type byte or reserved bytes not as this consumer expects. */
  BadType: 2,
  /** MAC1 does not match: not for us, or corrupted. Checked before any DH. */
  BadMac1: 3,
  /** Under load and MAC2 is absent, stale or wrong: answer with a cookie reply. */
  NeedsCookie: 4,
  /** The initiator's static key is not a configured peer. */
  UnknownPeer: 5,
  /** An AEAD field failed to authenticate (includes a mismatched preshared key). */
  DecryptFailed: 6,
  /** The timestamp is not newer than the last accepted one from that peer. */
  Replay: 7,
  /** A DH result was all zeros: a low-order public key. */
  BadKey: 8,
  /** The handshake is not in the state this message needs (e.g. a response with no initiation out). */
  WrongState: 9,
  /** The receiver index does not name the handshake it was given to. */
  WrongIndex: 10,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];
export const verdictNames: readonly string[] = [
  'ok',
  'bad-length',
  'bad-type',
  'bad-mac1',
  'needs-cookie',
  'unknown-peer',
  'decrypt-failed',
  'replay',
  'bad-key',
  'wrong-state',
  'wrong-index',
];

/** The 64-bit little-endian transport counter as two uint32 halves (no bigint on the hot path). */
export function readCounterLo(bytes: Uint8Array, off: number): number {
  return readU32LE(bytes, off + TRANSPORT_COUNTER);
}
export function readCounterHi(bytes: Uint8Array, off: number): number {
  return readU32LE(bytes, off + TRANSPORT_COUNTER + 4);
}

/**
 * The message type at bytes[off] when the four-byte prefix is a known type
 * with zero reserved bytes, else 0. Reserved bytes must be zero: the
 * whitepaper defines them as zero, and rejecting anything else keeps the
 * door open for them to mean something later.
 */
export function messageType(bytes: Uint8Array, off: number, len: number): number {
  if (len < 4 || off + 4 > bytes.length) return 0;
  const t = readU32LE(bytes, off);
  return t >= MessageType.Initiation && t <= MessageType.Transport ? t : 0;
}

/** Write the type byte and zero the reserved bytes. */
export function writeType(bytes: Uint8Array, off: number, type: MessageType): void {
  writeU32LE(bytes, off, type);
}

/** The expected total length of a handshake or cookie message; transport messages vary. */
export function expectedLength(type: number): number {
  switch (type) {
    case MessageType.Initiation:
      return INIT_LEN;
    case MessageType.Response:
      return RESP_LEN;
    case MessageType.CookieReply:
      return COOKIE_REPLY_LEN;
    default:
      return 0;
  }
}

/** Write a transport header: type 4, receiver index, counter as two uint32 halves. */
export function writeTransportHeader(bytes: Uint8Array, off: number, receiver: number, counterLo: number, counterHi: number): void {
  writeType(bytes, off, MessageType.Transport);
  writeU32LE(bytes, off + TRANSPORT_RECEIVER, receiver);
  writeU32LE(bytes, off + TRANSPORT_COUNTER, counterLo);
  writeU32LE(bytes, off + TRANSPORT_COUNTER + 4, counterHi);
}

/** Bytes of zero padding that bring a plaintext of `len` to a multiple of 16 (keepalives stay empty). */
export function paddingFor(len: number): number {
  return (TRANSPORT_PADDING - (len % TRANSPORT_PADDING)) % TRANSPORT_PADDING;
}
