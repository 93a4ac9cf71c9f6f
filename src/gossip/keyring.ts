/**
 * The cluster keyring: every gossip datagram is sealed with the primary key
 * and opened with whichever key of the ring authenticates it. Rotating the
 * cluster key is then three rolling steps with no partition: add the new key
 * everywhere, make it primary everywhere, remove the old one.
 *
 * The AEAD is XChaCha20-Poly1305 with a random 24-byte nonce: gossip has no
 * per-peer session to hold a counter, and 192 random bits never repeat in
 * practice, where 96 random bits (plain ChaCha20-Poly1305) would start to
 * risk a collision after 2^32 messages under one key.
 */
import { randomFillSync } from 'node:crypto';
import { WeftError } from '../errors.ts';
import { XKEY_LEN, XNONCE_LEN, XTAG_LEN, xaeadOpen, xaeadSeal } from '../crypto/xaead.ts';

/** Datagram = version u8 || nonce (24) || ciphertext || tag (16); the version byte is authenticated as AD. */
export const SEAL_OVERHEAD = 1 + XNONCE_LEN + XTAG_LEN;

// Random nonces come from a pool refilled 4 KiB at a time: one getrandom() per 170 messages
// instead of one per message (that syscall was most of the simulator's time).
const pool = new Uint8Array(4096 - (4096 % XNONCE_LEN));
let poolOff = pool.length;

function nextNonce(): Uint8Array {
  if (poolOff + XNONCE_LEN > pool.length) {
    randomFillSync(pool);
    poolOff = 0;
  }
  const n = pool.slice(poolOff, poolOff + XNONCE_LEN);
  poolOff += XNONCE_LEN;
  return n;
}

export class Keyring {
  private keys: Uint8Array[];
  /** The ring index of the key that opened the last datagram open() returned (seal-keys.ts). */
  lastOpened = 0;

  constructor(primary: Uint8Array, others: readonly Uint8Array[] = []) {
    for (const k of [primary, ...others]) {
      if (k.length !== XKEY_LEN) throw new WeftError('KEY_INVALID', `a cluster key is ${XKEY_LEN} bytes, got ${k.length}`);
    }
    this.keys = [primary.slice(), ...others.map((k) => k.slice())];
  }

  get size(): number {
    return this.keys.length;
  }

  /** Add a key that is accepted but not used to send. */
  add(key: Uint8Array): void {
    if (key.length !== XKEY_LEN) throw new WeftError('KEY_INVALID', `a cluster key is ${XKEY_LEN} bytes, got ${key.length}`);
    if (!this.keys.some((k) => Buffer.compare(k, key) === 0)) this.keys.push(key.slice());
  }

  /** Make an accepted key the one we send with. */
  usePrimary(key: Uint8Array): void {
    const i = this.keys.findIndex((k) => Buffer.compare(k, key) === 0);
    if (i < 0) throw new WeftError('KEY_INVALID', 'the new primary key must be added to the keyring first');
    const [k] = this.keys.splice(i, 1);
    this.keys.unshift(k!);
  }

  /** Remove a key; the primary cannot be removed (make another primary first). */
  remove(key: Uint8Array): void {
    const i = this.keys.findIndex((k) => Buffer.compare(k, key) === 0);
    if (i === 0) throw new WeftError('KEY_INVALID', 'cannot remove the primary cluster key');
    if (i > 0) this.keys.splice(i, 1);
  }

  /** Seal with the primary, or with the ring's `index`th key (an older one a peer still speaks: seal-keys.ts). */
  seal(version: number, plaintext: Uint8Array, index = 0): Uint8Array {
    const nonce = nextNonce();
    const ad = Uint8Array.of(version);
    const sealed = xaeadSeal(this.keys[index] ?? this.keys[0]!, nonce, plaintext, ad);
    const out = new Uint8Array(1 + XNONCE_LEN + sealed.length);
    out[0] = version;
    out.set(nonce, 1);
    out.set(sealed, 1 + XNONCE_LEN);
    return out;
  }

  /** The plaintext, or null when no key authenticates the datagram (or it is too short). */
  open(datagram: Uint8Array): Uint8Array | null {
    if (datagram.length < SEAL_OVERHEAD) return null;
    const ad = datagram.subarray(0, 1);
    const nonce = datagram.subarray(1, 1 + XNONCE_LEN);
    const body = datagram.subarray(1 + XNONCE_LEN);
    for (let i = 0; i < this.keys.length; i++) {
      const pt = xaeadOpen(this.keys[i]!, nonce, body, ad);
      if (pt !== null) {
        this.lastOpened = i;
        return pt;
      }
    }
    return null;
  }
}
