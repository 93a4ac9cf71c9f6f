/**
 * Accountable claims. A suspect or dead claim says "member X is suspect
 * (dead) at incarnation i, says member C", and C signs it with its own
 * Ed25519 key, the one its signed record names (record.ts):
 *
 *   kind u8 (5 suspect, 6 dead) | incarnation u32 | name: len u8 + UTF-8
 *   | from: len u8 + UTF-8 | signature (64)
 *
 * over "weft claim v1\0" followed by everything before the signature. The
 * context string keeps a claim's signature from ever passing for a record's
 * or a forget's (forget.ts), all made with the same key.
 *
 * Before, any holder of the cluster key could write any name into `from`
 * and claim any node suspect or dead; the victim refuted, but the claim
 * spread first, and nobody could tell who lied. Now a claim is believed
 * only from a member whose record we hold, under that record's key, within
 * that claimer's rate, and while its claims are not being refuted
 * (claim-trust.ts). Claims are passed on as received, signature included,
 * so whoever hears one can check its claimer for itself; the claim that made
 * a member dead is what anti-entropy hands out about it later.
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { CLAIM_SIG_LEN, claimBody } from './codec.ts';
import type { ClaimKind } from './codec.ts';

const CONTEXT = new TextEncoder().encode('weft claim v1\0');

function withContext(body: Uint8Array): Uint8Array {
  const m = new Uint8Array(CONTEXT.length + body.length);
  m.set(CONTEXT);
  m.set(body, CONTEXT.length);
  return m;
}

// Claims are signed and checked with node:crypto's native Ed25519 (RFC 8032: the same signatures
// as @noble/curves, which records use), about 20 times faster: a partition has every node claim
// dozens of deaths at once, and each claim is checked by every node that hears it first.
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
const privateKeys = new WeakMap<Uint8Array, KeyObject>();
/** Public keys by their bytes (latin1), bounded: members come and go. */
const publicKeys = new Map<string, KeyObject>();

function privateKey(secretKey: Uint8Array): KeyObject {
  let k = privateKeys.get(secretKey);
  if (k === undefined) {
    k = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, secretKey]), format: 'der', type: 'pkcs8' });
    privateKeys.set(secretKey, k);
  }
  return k;
}

function publicKey(key: Uint8Array): KeyObject {
  const id = Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
  let k = publicKeys.get(id);
  if (k === undefined) {
    k = createPublicKey({ key: Buffer.concat([SPKI_ED25519, key]), format: 'der', type: 'spki' });
    if (publicKeys.size >= 16_384) publicKeys.clear();
    publicKeys.set(id, k);
  }
  return k;
}

/** The encoded fact of a claim by `from`, signed with its secret key. */
export function signClaim(kind: ClaimKind, name: string, incarnation: number, from: string, secretKey: Uint8Array): Uint8Array {
  const body = claimBody(kind, name, incarnation, from);
  const out = new Uint8Array(body.length + CLAIM_SIG_LEN);
  out.set(body);
  out.set(sign(null, withContext(body), privateKey(secretKey)), body.length);
  return out;
}

/** The signed part of an encoded claim (a view). */
export function claimSigned(fact: Uint8Array): Uint8Array {
  return fact.subarray(0, Math.max(0, fact.length - CLAIM_SIG_LEN));
}

/** Whether `signature` over a claim's body holds under the claimer's key. Never throws. */
export function verifyClaim(body: Uint8Array, signature: Uint8Array, key: Uint8Array): boolean {
  if (signature.length !== CLAIM_SIG_LEN || key.length !== 32) return false;
  try {
    return verify(null, withContext(body), publicKey(key), signature);
  } catch {
    return false;
  }
}
