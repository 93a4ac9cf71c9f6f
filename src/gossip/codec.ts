/**
 * Gossip message framing. A datagram is the version byte, then the keyring's
 * seal (keyring.ts) around one plaintext message:
 *
 *   sent-at u48 | to u48 | type u8 | from: len u8 + UTF-8 name | type-specific fields | facts
 *
 * The stamp (sent-at, to) is what makes a captured datagram worthless later
 * or elsewhere (replay-guard.ts): sent-at is the sender's wall clock in ms
 * since the Unix epoch, so a receiver can refuse anything outside its
 * acceptance window; to is the 48-bit name hash of the intended recipient,
 * so a datagram replayed to another node is refused there. to = 0 means
 * "whoever is at this address": only a joiner's first messages to its seeds,
 * whose names it does not know yet, may say that. Both sit inside the sealed
 * plaintext, so nobody without the cluster key can change them.
 *
 * Probe messages (ping, ping-req, ack, nack) and gossip messages end with
 * piggybacked facts: count u8, then per fact kind u8 + len u16 + body. A fact
 * is one thing said about one node: alive (its signed record), suspect or
 * dead (name, incarnation, who said it, and that member's signature:
 * claim.ts), or forget (forget.ts). Sync messages carry anti-entropy
 * digests instead (anti-entropy.ts); sync-records carries facts like gossip
 * but marks them as pulled by anti-entropy rather than spread by infection.
 *
 * decode never throws: truncated, oversized or unknown input is a verdict
 * with a reason, and membership counts it.
 */
import { readU16BE, readU32BE, readU48BE, writeU16BE, writeU32BE, writeU48BE } from '../bytes/endian.ts';
import { XNONCE_LEN } from '../crypto/xaead.ts';
import { Keyring, SEAL_OVERHEAD } from './keyring.ts';

/**
 * Version 2 added the stamp. Version 1 datagrams carry none, so they cannot be
 * checked for replay: they are dropped (counted as 'version'), never
 * half-accepted, and a cluster is upgraded to version 2 as a whole.
 */
export const GOSSIP_VERSION = 2;
/** 1400 bytes fit every common path MTU (1500 Ethernet minus IP, UDP and any tunnel) unfragmented. */
export const MAX_DATAGRAM = 1400;
export const MAX_PLAINTEXT = MAX_DATAGRAM - SEAL_OVERHEAD;
/** The stamp in front of every message: sent-at u48 + to u48. */
export const STAMP_LEN = 12;
/** Plaintext bytes for the message itself (type onwards), after the stamp. */
export const MAX_MESSAGE = MAX_PLAINTEXT - STAMP_LEN;
/** The stamp's recipient for "whoever is at this address" (a joiner to its seeds). */
export const ANY_RECIPIENT = 0;

/** When and for whom a datagram was sealed. */
export interface Stamp {
  /** Sender's wall clock, ms since the Unix epoch. */
  sentAt: number;
  /** The recipient's 48-bit name hash (anti-entropy's nameHash), or ANY_RECIPIENT. */
  to: number;
}

export const MsgType = { Ping: 1, PingReq: 2, Ack: 3, Nack: 4, Gossip: 5, SyncDigest: 6, SyncEntries: 7, SyncWant: 8, SyncRecords: 9 } as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];
/**
 * Forget (forget.ts): an operator ended a dead member's tombstone; its own layout, decoded there.
 * Suspect and Dead (5, 6) are claims signed by their claimer (claim.ts); UnsignedSuspect and
 * UnsignedDead (2, 3) are the same claims as weft sent them before, without a signature: still
 * decoded, never believed (dropped as 'unsigned-claim').
 */
export const FactKind = { Alive: 1, UnsignedSuspect: 2, UnsignedDead: 3, Forget: 4, Suspect: 5, Dead: 6 } as const;
export type ClaimKind = typeof FactKind.Suspect | typeof FactKind.Dead;
/** An Ed25519 signature closes a signed claim. */
export const CLAIM_SIG_LEN = 64;

/** Anti-entropy buckets: 64 x u32 = 256 bytes, small enough to send every second. */
export const SYNC_BUCKETS = 64;
/** A sync entry: name hash (6 bytes, 48 bits) + incarnation u32 + state class u8. */
export const ENTRY_LEN = 11;
export const HASH_LEN48 = 6;

export type Fact =
  | { kind: typeof FactKind.Alive; record: Uint8Array }
  | { kind: ClaimKind; name: string; incarnation: number; from: string; signature: Uint8Array }
  | { kind: typeof FactKind.UnsignedSuspect | typeof FactKind.UnsignedDead; name: string; incarnation: number; from: string };

export interface SyncEntry {
  hash: number;
  incarnation: number;
  stateClass: number;
}

export type Message =
  | { type: typeof MsgType.Ping | typeof MsgType.PingReq; from: string; seq: number; target: string; facts: Uint8Array[] }
  | { type: typeof MsgType.Ack | typeof MsgType.Nack; from: string; seq: number; facts: Uint8Array[] }
  | { type: typeof MsgType.Gossip | typeof MsgType.SyncRecords; from: string; facts: Uint8Array[] }
  | { type: typeof MsgType.SyncDigest; from: string; reply: boolean; count: number; buckets: Uint32Array }
  | { type: typeof MsgType.SyncEntries; from: string; entries: SyncEntry[] }
  | { type: typeof MsgType.SyncWant; from: string; hashes: number[] };

/**
 * An opened datagram: the message, its stamp, its nonce (the replay guard's key: random, and
 * authenticated, so it cannot be altered to dodge the guard) and the message's bytes after the
 * stamp (what de-duplication compares).
 */
export type DecodeVerdict =
  | { ok: true; msg: Message; stamp: Stamp; nonce: Uint8Array; body: Uint8Array }
  | { ok: false; reason: 'version' | 'unauthenticated' | 'malformed' };
export type FactVerdict = { ok: true; fact: Fact } | { ok: false };

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Bytes a fact costs inside a message (kind + length prefix + body). */
export function factCost(fact: Uint8Array): number {
  return 3 + fact.length;
}

export function encodeFact(f: Fact): Uint8Array {
  if (f.kind === FactKind.Alive) {
    const out = new Uint8Array(1 + f.record.length);
    out[0] = f.kind;
    out.set(f.record, 1);
    return out;
  }
  const body = claimBody(f.kind, f.name, f.incarnation, f.from);
  if (!('signature' in f)) return body;
  const out = new Uint8Array(body.length + CLAIM_SIG_LEN);
  out.set(body);
  out.set(f.signature.subarray(0, CLAIM_SIG_LEN), body.length);
  return out;
}

/** What a claim's signature covers (claim.ts): kind u8 | incarnation u32 | name len u8 + UTF-8 | from len u8 + UTF-8. */
export function claimBody(kind: number, name: string, incarnation: number, from: string): Uint8Array {
  const n = enc.encode(name);
  const fr = enc.encode(from);
  const out = new Uint8Array(1 + 4 + 1 + n.length + 1 + fr.length);
  out[0] = kind;
  writeU32BE(out, 1, incarnation);
  out[5] = n.length;
  out.set(n, 6);
  out[6 + n.length] = fr.length;
  out.set(fr, 7 + n.length);
  return out;
}

export function decodeFact(b: Uint8Array): FactVerdict {
  const kind = b[0];
  if (kind === FactKind.Alive) return b.length > 1 ? { ok: true, fact: { kind, record: b.subarray(1) } } : { ok: false };
  const signed = kind === FactKind.Suspect || kind === FactKind.Dead;
  if (!signed && kind !== FactKind.UnsignedSuspect && kind !== FactKind.UnsignedDead) return { ok: false };
  const end = signed ? b.length - CLAIM_SIG_LEN : b.length;
  if (end < 7) return { ok: false };
  const inc = readU32BE(b, 1);
  const nl = b[5]!;
  if (7 + nl > end) return { ok: false };
  const fl = b[6 + nl]!;
  if (7 + nl + fl !== end || nl === 0 || fl === 0) return { ok: false };
  try {
    const name = dec.decode(b.subarray(6, 6 + nl));
    const from = dec.decode(b.subarray(7 + nl, end));
    return signed
      ? { ok: true, fact: { kind, incarnation: inc, name, from, signature: b.subarray(end) } }
      : { ok: true, fact: { kind, incarnation: inc, name, from } };
  } catch {
    return { ok: false };
  }
}

class Writer {
  readonly buf = new Uint8Array(MAX_PLAINTEXT);
  o = 0;
  u8(n: number): void {
    this.buf[this.o++] = n;
  }
  u32(n: number): void {
    writeU32BE(this.buf, this.o, n);
    this.o += 4;
  }
  u48(n: number): void {
    writeU48BE(this.buf, this.o, n);
    this.o += 6;
  }
  name(s: string): void {
    const b = enc.encode(s);
    this.u8(b.length);
    this.buf.set(b, this.o);
    this.o += b.length;
  }
}

/** One scratch plaintext for every message: encoding is synchronous and the seal copies it out. */
const writer = new Writer();

/** Plaintext bytes left for facts after a message's fixed part (for the broadcast queue's budget). */
export function factBudget(from: string, target = ''): number {
  return MAX_MESSAGE - (1 + 1 + enc.encode(from).length + 4 + 1 + enc.encode(target).length + 1);
}

/**
 * Encode and seal. The caller keeps facts within factBudget and sync lists within one datagram.
 * Without a stamp the message is stamped now (Date.now()) for any recipient. `keyIndex` picks
 * an older key of the ring to seal with (seal-keys.ts); the primary by default.
 */
export function encodeMessage(m: Message, keyring: Keyring, stamp: Stamp = { sentAt: Date.now(), to: ANY_RECIPIENT }, keyIndex = 0): Uint8Array {
  const w = writer;
  w.o = 0;
  w.u48(Math.max(0, Math.floor(stamp.sentAt)));
  w.u48(stamp.to);
  w.u8(m.type);
  w.name(m.from);
  switch (m.type) {
    case MsgType.Ping:
    case MsgType.PingReq:
      w.u32(m.seq);
      w.name(m.target);
      writeFacts(w, m.facts);
      break;
    case MsgType.Ack:
    case MsgType.Nack:
      w.u32(m.seq);
      writeFacts(w, m.facts);
      break;
    case MsgType.Gossip:
    case MsgType.SyncRecords:
      writeFacts(w, m.facts);
      break;
    case MsgType.SyncDigest:
      w.u8(m.reply ? 1 : 0);
      w.u32(m.count);
      for (let i = 0; i < SYNC_BUCKETS; i++) w.u32(m.buckets[i] ?? 0);
      break;
    case MsgType.SyncEntries:
      writeU16BE(w.buf, w.o, m.entries.length);
      w.o += 2;
      for (const e of m.entries) {
        w.u48(e.hash);
        w.u32(e.incarnation);
        w.u8(e.stateClass);
      }
      break;
    case MsgType.SyncWant:
      writeU16BE(w.buf, w.o, m.hashes.length);
      w.o += 2;
      for (const h of m.hashes) w.u48(h);
      break;
  }
  return keyring.seal(GOSSIP_VERSION, w.buf.subarray(0, w.o), keyIndex);
}

function writeFacts(w: Writer, facts: Uint8Array[]): void {
  w.u8(facts.length);
  for (const f of facts) {
    writeU16BE(w.buf, w.o, f.length);
    w.o += 2;
    w.buf.set(f, w.o);
    w.o += f.length;
  }
}

/** Open and parse a datagram. Never throws. */
export function decodeMessage(datagram: Uint8Array, keyring: Keyring): DecodeVerdict {
  if (datagram.length === 0 || datagram[0] !== GOSSIP_VERSION) return { ok: false, reason: 'version' };
  if (datagram.length > MAX_DATAGRAM) return { ok: false, reason: 'malformed' };
  const p = keyring.open(datagram);
  if (p === null) return { ok: false, reason: 'unauthenticated' };
  if (p.length < STAMP_LEN) return { ok: false, reason: 'malformed' };
  const stamp = { sentAt: readU48BE(p, 0), to: readU48BE(p, 6) };
  const body = p.subarray(STAMP_LEN);
  const msg = parse(body);
  if (msg === null) return { ok: false, reason: 'malformed' };
  return { ok: true, msg, stamp, nonce: nonceOf(datagram), body };
}

/** The seal's nonce: random per datagram, so a repeat of it is a replay. */
export function nonceOf(datagram: Uint8Array): Uint8Array {
  return datagram.subarray(1, 1 + XNONCE_LEN);
}

function parse(p: Uint8Array): Message | null {
  let o = 0;
  const need = (n: number): boolean => o + n <= p.length;
  const name = (): string | null => {
    if (!need(1)) return null;
    const n = p[o++]!;
    if (n === 0 || !need(n)) return null;
    try {
      const s = dec.decode(p.subarray(o, o + n));
      o += n;
      return s;
    } catch {
      return null;
    }
  };
  const u48 = (): number => {
    const n = readU48BE(p, o);
    o += 6;
    return n;
  };
  const facts = (): Uint8Array[] | null => {
    if (!need(1)) return null;
    const count = p[o++]!;
    const out: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      if (!need(2)) return null;
      const len = readU16BE(p, o);
      o += 2;
      if (len === 0 || !need(len)) return null;
      out.push(p.subarray(o, o + len));
      o += len;
    }
    return o === p.length ? out : null;
  };
  if (!need(1)) return null;
  const type = p[o++]!;
  const from = name();
  if (from === null) return null;
  switch (type) {
    case MsgType.Ping:
    case MsgType.PingReq: {
      if (!need(4)) return null;
      const seq = readU32BE(p, o);
      o += 4;
      const target = name();
      const f = target === null ? null : facts();
      return f === null || target === null ? null : { type, from, seq, target, facts: f };
    }
    case MsgType.Ack:
    case MsgType.Nack: {
      if (!need(4)) return null;
      const seq = readU32BE(p, o);
      o += 4;
      const f = facts();
      return f === null ? null : { type, from, seq, facts: f };
    }
    case MsgType.Gossip:
    case MsgType.SyncRecords: {
      const f = facts();
      return f === null ? null : { type, from, facts: f };
    }
    case MsgType.SyncDigest: {
      if (o + 5 + 4 * SYNC_BUCKETS !== p.length) return null;
      const reply = p[o++] === 1;
      const count = readU32BE(p, o);
      o += 4;
      const buckets = new Uint32Array(SYNC_BUCKETS);
      for (let i = 0; i < SYNC_BUCKETS; i++, o += 4) buckets[i] = readU32BE(p, o);
      return { type, from, reply, count, buckets };
    }
    case MsgType.SyncEntries: {
      if (!need(2)) return null;
      const n = readU16BE(p, o);
      o += 2;
      if (o + n * ENTRY_LEN !== p.length) return null;
      const entries: SyncEntry[] = [];
      for (let i = 0; i < n; i++) {
        const hash = u48();
        const incarnation = readU32BE(p, o);
        entries.push({ hash, incarnation, stateClass: p[o + 4]! });
        o += 5;
      }
      return { type, from, entries };
    }
    case MsgType.SyncWant: {
      if (!need(2)) return null;
      const n = readU16BE(p, o);
      o += 2;
      if (o + n * HASH_LEN48 !== p.length) return null;
      const hashes: number[] = [];
      for (let i = 0; i < n; i++) hashes.push(u48());
      return { type, from, hashes };
    }
    default:
      return null;
  }
}
