/**
 * Forgetting a dead member at an operator's word (`weft forget NODE`).
 *
 * A member declared dead (or departed) stays a tombstone for the tombstone
 * time (10 min), and its name stays bound to the key it was first seen with:
 * a node reinstalled with a new key is refused (key-mismatch) until then. A
 * forget fact ends that early, on every node, for exactly one tombstone:
 *
 *   kind u8 (4) | issued-at u48 (wall ms) | incarnation u32 | signing key (32)
 *   | name: len u8 + UTF-8 | from: len u8 + UTF-8 | signature (64)
 *
 * signed by the issuing member's own Ed25519 key over "weft forget v1\0" and
 * everything before the signature. It names the key and the incarnation of
 * the tombstone it ends. A node that holds that tombstone (same name, same
 * key, incarnation at most that) removes it, remembers the forget for the
 * tombstone time and passes it on; anything else ignores it. While
 * remembered, the forgotten record itself (that key, that incarnation or
 * older) is refused, so a peer that has not heard the forget yet cannot
 * bring the tombstone back through anti-entropy; such a peer is told again
 * (the fact is queued anew), and anti-entropy hands the fact out ahead of
 * the name's new record.
 *
 * What a holder of the cluster key can do with it, and the bounds: it must
 * also be a member (the issuer's record is how the signature is checked),
 * and every forget names its issuer. A forget never touches a live or
 * suspected member, only a tombstone whose key and incarnation it names, so
 * it cannot remove a working node, and a node that restarts with its old key
 * comes back above the forgotten incarnation and is taken as before. What it
 * can do is end a tombstone ten minutes early, so that a new key may take a
 * dead node's name at once: a cluster-key holder can already join under any
 * name nobody holds. Facts older than the tombstone time or dated ahead of
 * the clock skew gossip allows are refused, and at most 64 are remembered.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { readU32BE, readU48BE, writeU32BE, writeU48BE } from '../bytes/endian.ts';
import { FactKind } from './codec.ts';
import { SIG_LEN, SIGNING_KEY_LEN, bytesEqual } from './record.ts';

const CONTEXT = new TextEncoder().encode('weft forget v1\0');
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
/** kind + issued-at + incarnation + key. */
const FIXED_LEN = 1 + 6 + 4 + SIGNING_KEY_LEN;
/** Forgets remembered at once: each is an operator's act about one dead node. */
export const MAX_FORGETS = 64;
/** A forget dated this far ahead of our clock is refused: gossip's clock agreement (admission.ts). */
export const FORGET_SKEW_MS = 30_000;

export interface ForgetFact {
  readonly name: string;
  /** The signing key of the forgotten tombstone. */
  readonly key: Uint8Array;
  /** The forgotten record's incarnation: records at or below it (under that key) are refused. */
  readonly incarnation: number;
  /** The issuer's wall clock, ms since the epoch. */
  readonly issuedAt: number;
  /** The member that issued it, whose record's key signed it. */
  readonly from: string;
  readonly body: Uint8Array;
  readonly signature: Uint8Array;
}

export type ForgetFields = Omit<ForgetFact, 'body' | 'signature'>;

export function encodeForget(f: ForgetFields, secretKey: Uint8Array): Uint8Array {
  const name = enc.encode(f.name);
  const from = enc.encode(f.from);
  if (name.length === 0 || name.length > 255 || from.length === 0 || from.length > 255) throw new RangeError('forget: names must be 1..255 bytes');
  if (f.key.length !== SIGNING_KEY_LEN) throw new RangeError('forget: a signing key is 32 bytes');
  const bodyLen = FIXED_LEN + 1 + name.length + 1 + from.length;
  const out = new Uint8Array(bodyLen + SIG_LEN);
  out[0] = FactKind.Forget;
  writeU48BE(out, 1, Math.max(0, Math.floor(f.issuedAt)));
  writeU32BE(out, 7, f.incarnation);
  out.set(f.key, 11);
  out[FIXED_LEN] = name.length;
  out.set(name, FIXED_LEN + 1);
  out[FIXED_LEN + 1 + name.length] = from.length;
  out.set(from, FIXED_LEN + 2 + name.length);
  out.set(ed25519.sign(withContext(out.subarray(0, bodyLen)), secretKey), bodyLen);
  return out;
}

/** A forget fact's fields, or null when it does not parse. Never throws. */
export function decodeForget(b: Uint8Array): ForgetFact | null {
  if (b.length < FIXED_LEN + 2 + SIG_LEN || b[0] !== FactKind.Forget) return null;
  const nl = b[FIXED_LEN]!;
  const fromAt = FIXED_LEN + 1 + nl;
  if (nl === 0 || fromAt >= b.length) return null;
  const fl = b[fromAt]!;
  const bodyLen = fromAt + 1 + fl;
  if (fl === 0 || bodyLen + SIG_LEN !== b.length) return null;
  try {
    return {
      issuedAt: readU48BE(b, 1),
      incarnation: readU32BE(b, 7),
      key: b.slice(11, 11 + SIGNING_KEY_LEN),
      name: dec.decode(b.subarray(FIXED_LEN + 1, fromAt)),
      from: dec.decode(b.subarray(fromAt + 1, bodyLen)),
      body: b.subarray(0, bodyLen),
      signature: b.subarray(bodyLen),
    };
  } catch {
    return null;
  }
}

export function verifyForget(f: ForgetFact, issuerKey: Uint8Array): boolean {
  try {
    return ed25519.verify(f.signature, withContext(f.body), issuerKey);
  } catch {
    return false;
  }
}

function withContext(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(CONTEXT.length + body.length);
  out.set(CONTEXT);
  out.set(body, CONTEXT.length);
  return out;
}

interface Remembered {
  readonly key: Uint8Array;
  readonly incarnation: number;
  /** The fact as received, to pass on. */
  readonly bytes: Uint8Array;
  /** Monotonic ms after which it is forgotten in turn (every tombstone it ended has been reaped by then). */
  readonly until: number;
}

/** The forgets in force here, by name: bounded, each for the tombstone time. */
export class ForgetLedger {
  private readonly byName = new Map<string, Remembered>();

  constructor(private readonly max = MAX_FORGETS) {}

  get size(): number {
    return this.byName.size;
  }

  /** False when the ledger is full of forgets still in force. */
  remember(f: ForgetFact, bytes: Uint8Array, until: number, now: number): boolean {
    this.expire(now);
    if (!this.byName.has(f.name) && this.byName.size >= this.max) return false;
    this.byName.set(f.name, { key: f.key, incarnation: f.incarnation, bytes: bytes.slice(), until });
    return true;
  }

  /** Whether this record (name, key, incarnation) is one an operator forgot. */
  blocks(name: string, key: Uint8Array, incarnation: number, now: number): boolean {
    const r = this.byName.get(name);
    if (r === undefined) return false;
    if (now >= r.until) {
      this.byName.delete(name);
      return false;
    }
    return incarnation <= r.incarnation && bytesEqual(key, r.key);
  }

  /** Whether exactly this forget (name, key, incarnation) is in force: nothing new to do. */
  holds(f: ForgetFact, now: number): boolean {
    const r = this.byName.get(f.name);
    return r !== undefined && now < r.until && r.incarnation === f.incarnation && bytesEqual(r.key, f.key);
  }

  /** The forget in force for this name, as received (anti-entropy hands it out before the name's record). */
  factFor(name: string, now: number): Uint8Array | undefined {
    const r = this.byName.get(name);
    return r !== undefined && now < r.until ? r.bytes : undefined;
  }

  private expire(now: number): void {
    for (const [name, r] of this.byName) if (now >= r.until) this.byName.delete(name);
  }
}
