/**
 * MAC1, MAC2 and cookie replies: WireGuard's DoS mitigation (whitepaper 5.3
 * and 5.4.4, 5.4.7). Two roles, one per direction of a handshake message:
 *
 *  - CookieChecker, held once for our own static key, checks MACs on the
 *    handshake messages we receive and issues cookie replies;
 *  - CookieGenerator, held per peer, writes MACs on the messages we send to
 *    that peer and consumes the cookie replies it sends us.
 *
 * MAC1 = MAC(HASH("mac1----" || Spub_receiver), msg[0 .. mac1)) is always
 * written and always checked, before any DH: it proves the sender knows our
 * public key, so a responder spends no curve operation on a message from
 * someone who merely found the port. MAC2 = MAC(cookie, msg[0 .. mac2)) is
 * written whenever the sender holds a cookie younger than 120 s and checked
 * only when the receiver is under load; a message without a valid MAC2 then
 * earns a cookie reply instead of a handshake, and the sender proves on its
 * retry that it can receive at its claimed address.
 *
 * The cookie is MAC(Rm, source address) under a random secret Rm that
 * changes every 2 minutes, so a cookie goes stale on its own and the
 * responder keeps no per-source state. The cookie reply seals it with
 * XChaCha20-Poly1305 under HASH("cookie--" || Spub_responder) and a random
 * nonce, with the MAC1 of the provoking message as associated data: only the
 * party that sent that exact message (and knows the responder's public key)
 * can open it, so a cookie reply cannot be forged by a third party to make
 * a peer's retries carry a wrong cookie.
 *
 * Times are milliseconds on a monotonic clock (performance.now() by
 * default); callers with a coarse timer tick pass its time instead.
 */
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { readU32LE, writeU32LE } from '../bytes/endian.ts';
import { hash, mac } from '../crypto/hash.ts';
import { xaeadOpen, xaeadSeal } from '../crypto/xaead.ts';
import { wipe } from '../crypto/keys.ts';
import {
  COOKIE_LEN,
  COOKIE_NONCE,
  COOKIE_NONCE_LEN,
  COOKIE_RECEIVER,
  COOKIE_REPLY_LEN,
  COOKIE_SEALED,
  COOKIE_SEALED_LEN,
  INDEX_OFFSET,
  INIT_LEN,
  INIT_MAC1,
  MAC_LEN,
  MessageType,
  RESP_LEN,
  RESP_MAC1,
  Verdict,
  messageType,
  writeType,
} from './messages.ts';

const LABEL_MAC1 = new TextEncoder().encode('mac1----');
const LABEL_COOKIE = new TextEncoder().encode('cookie--');

/** A cookie is used for MAC2 for this long after it arrived (whitepaper 6.1, Timer: "Cookie Refresh"). */
export const COOKIE_LIFETIME_MS = 120_000;
/** The responder's cookie secret is replaced this often, which is what bounds a cookie's validity. */
export const COOKIE_SECRET_LIFETIME_MS = 120_000;

/** HASH("mac1----" || pub): the MAC1 key for messages sent to the owner of `pub`. */
export function mac1Key(pub: Uint8Array): Uint8Array {
  return hash(LABEL_MAC1, pub);
}

/** HASH("cookie--" || pub): the key sealing cookie replies sent by the owner of `pub`. */
export function cookieKey(pub: Uint8Array): Uint8Array {
  return hash(LABEL_COOKIE, pub);
}

/** Offsets of mac1 and mac2 for a handshake message of `len` bytes, or -1 for other lengths. */
function macOffsets(bytes: Uint8Array, len: number): number {
  const t = messageType(bytes, 0, len);
  if (t === MessageType.Initiation && len === INIT_LEN) return INIT_MAC1;
  if (t === MessageType.Response && len === RESP_LEN) return RESP_MAC1;
  return -1;
}

/** Constant-time comparison of a computed MAC with the bytes at msg[off]. */
function macEqual(expected: Uint8Array, msg: Uint8Array, off: number): boolean {
  let diff = 0;
  for (let i = 0; i < MAC_LEN; i++) diff |= expected[i]! ^ msg[off + i]!;
  return diff === 0;
}

/** Checks MACs on handshake messages sent to us, and issues cookie replies. One per local static key. */
export class CookieChecker {
  private readonly mac1K: Uint8Array;
  private readonly cookieK: Uint8Array;
  private readonly secret = new Uint8Array(32);
  private secretBornAt = -Infinity;

  constructor(localPublicKey: Uint8Array) {
    this.mac1K = mac1Key(localPublicKey);
    this.cookieK = cookieKey(localPublicKey);
  }

  /** True when the message (an initiation or response, whole) carries our MAC1. */
  checkMac1(msg: Uint8Array): boolean {
    const m1 = macOffsets(msg, msg.length);
    if (m1 < 0) return false;
    return macEqual(mac(this.mac1K, msg.subarray(0, m1)), msg, m1);
  }

  /** True when MAC2 is the MAC of the message under the cookie `source` would get now. */
  checkMac2(msg: Uint8Array, source: Uint8Array, now: number = performance.now()): boolean {
    const m1 = macOffsets(msg, msg.length);
    if (m1 < 0) return false;
    const m2 = m1 + MAC_LEN;
    const cookie = this.cookieFor(source, now);
    const ok = macEqual(mac(cookie, msg.subarray(0, m2)), msg, m2);
    wipe(cookie);
    return ok;
  }

  /**
   * The one gate in front of the handshake: BadMac1 unless MAC1 is ours;
   * when `underLoad`, NeedsCookie unless MAC2 is valid for `source`; else Ok.
   */
  check(msg: Uint8Array, underLoad: boolean, source?: Uint8Array, now: number = performance.now()): Verdict {
    if (macOffsets(msg, msg.length) < 0) return Verdict.BadLength;
    if (!this.checkMac1(msg)) return Verdict.BadMac1;
    if (underLoad && (source === undefined || !this.checkMac2(msg, source, now))) return Verdict.NeedsCookie;
    return Verdict.Ok;
  }

  /**
   * A cookie reply to `msg` (a handshake message whose MAC1 checked out),
   * addressed to its sender index, carrying the cookie for `source`: any
   * stable encoding of the sender's address and port (e.g. IP bytes then
   * port), the same one checkMac2 will be given. Returns null for a message
   * that is not a well-formed initiation or response.
   */
  createReply(msg: Uint8Array, source: Uint8Array, now: number = performance.now()): Uint8Array | null {
    const m1 = macOffsets(msg, msg.length);
    if (m1 < 0) return null;
    const out = new Uint8Array(COOKIE_REPLY_LEN);
    writeType(out, 0, MessageType.CookieReply);
    // Both handshake messages carry their sender index at the same offset.
    writeU32LE(out, COOKIE_RECEIVER, readU32LE(msg, INDEX_OFFSET));
    const nonce = out.subarray(COOKIE_NONCE, COOKIE_NONCE + COOKIE_NONCE_LEN);
    randomFillSync(nonce);
    const cookie = this.cookieFor(source, now);
    out.set(xaeadSeal(this.cookieK, nonce, cookie, msg.subarray(m1, m1 + MAC_LEN)), COOKIE_SEALED);
    wipe(cookie);
    return out;
  }

  /** MAC(Rm, source), replacing Rm first when it is older than 2 minutes. */
  private cookieFor(source: Uint8Array, now: number): Uint8Array {
    if (!(now - this.secretBornAt < COOKIE_SECRET_LIFETIME_MS)) {
      randomFillSync(this.secret);
      this.secretBornAt = now;
    }
    return mac(this.secret, source);
  }
}

/** Writes MACs on messages to one peer and holds the cookie that peer last gave us. */
export class CookieGenerator {
  private readonly mac1K: Uint8Array;
  private readonly cookieK: Uint8Array;
  private readonly cookie = new Uint8Array(COOKIE_LEN);
  private cookieAt = -Infinity;
  /** The MAC1 of the last message we sent: the associated data of the cookie reply it may earn. */
  private readonly lastMac1 = new Uint8Array(MAC_LEN);
  private awaitingReply = false;

  constructor(peerPublicKey: Uint8Array) {
    this.mac1K = mac1Key(peerPublicKey);
    this.cookieK = cookieKey(peerPublicKey);
  }

  /** True while a cookie younger than 120 s is held (MAC2 will be written). */
  hasFreshCookie(now: number = performance.now()): boolean {
    return now - this.cookieAt < COOKIE_LIFETIME_MS;
  }

  /**
   * Write MAC1 and MAC2 into a whole initiation or response (msg.length must
   * be 148 or 92; anything else is a programming error and nothing is
   * written). MAC2 is zeros unless a fresh cookie is held.
   */
  addMacs(msg: Uint8Array, now: number = performance.now()): boolean {
    const m1 = macOffsets(msg, msg.length);
    if (m1 < 0) return false;
    const m2 = m1 + MAC_LEN;
    const m1v = mac(this.mac1K, msg.subarray(0, m1));
    msg.set(m1v, m1);
    this.lastMac1.set(m1v);
    this.awaitingReply = true;
    if (this.hasFreshCookie(now)) msg.set(mac(this.cookie, msg.subarray(0, m2)), m2);
    else msg.fill(0, m2, m2 + MAC_LEN);
    return true;
  }

  /**
   * Take a cookie reply to the last message we sent. The caller routed it
   * here by its receiver index. Ok stores the cookie (MAC2 from now on);
   * anything else leaves the generator as it was. One reply per message
   * sent: a second reply to the same MAC1 is WrongState.
   */
  consumeReply(msg: Uint8Array, now: number = performance.now()): Verdict {
    if (msg.length !== COOKIE_REPLY_LEN) return Verdict.BadLength;
    if (messageType(msg, 0, msg.length) !== MessageType.CookieReply) return Verdict.BadType;
    if (!this.awaitingReply) return Verdict.WrongState;
    const nonce = msg.subarray(COOKIE_NONCE, COOKIE_NONCE + COOKIE_NONCE_LEN);
    const sealed = msg.subarray(COOKIE_SEALED, COOKIE_SEALED + COOKIE_SEALED_LEN);
    const cookie = xaeadOpen(this.cookieK, nonce, sealed, this.lastMac1);
    if (cookie === null) return Verdict.DecryptFailed;
    this.cookie.set(cookie);
    wipe(cookie);
    this.cookieAt = now;
    this.awaitingReply = false;
    return Verdict.Ok;
  }
}
