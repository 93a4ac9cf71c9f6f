/**
 * The long-lived key material the handshake (noise.ts) works with: our
 * static identity and, per configured peer, its public key, the optional
 * preshared key and what can be computed once for the pair instead of per
 * handshake (the static-static DH, the starting hashes, the MAC keys).
 * Configuration errors here (a low-order peer key, a wrong length) are
 * local faults and throw WeftError KEY_INVALID.
 */
import { hash } from '../crypto/hash.ts';
import { wipe } from '../crypto/keys.ts';
import { publicKey, sharedSecret } from '../crypto/x25519.ts';
import { WeftError } from '../errors.ts';
import { CookieChecker, CookieGenerator } from './cookie.ts';
import { KEY_LEN, TIMESTAMP_LEN } from './messages.ts';

const utf8 = new TextEncoder();
export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';

/** C0 = HASH(CONSTRUCTION): every handshake starts from it, so it is computed once. */
export const INITIAL_CHAIN_KEY: Uint8Array = hash(utf8.encode(CONSTRUCTION));
/** H0 = HASH(C0 || IDENTIFIER). */
export const INITIAL_HASH: Uint8Array = hash(INITIAL_CHAIN_KEY, utf8.encode(IDENTIFIER));

/** Our static identity, with what every handshake to or from us can precompute. */
export class LocalIdentity {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** HASH(H0 || Spub_local): the responder's starting hash, the same for every initiation to us. */
  readonly responderHash: Uint8Array;
  /** MAC1/MAC2 checks and cookie replies for messages sent to us. */
  readonly cookies: CookieChecker;

  constructor(privateKey: Uint8Array) {
    this.privateKey = privateKey.slice();
    this.publicKey = publicKey(this.privateKey);
    this.responderHash = hash(INITIAL_HASH, this.publicKey);
    this.cookies = new CookieChecker(this.publicKey);
  }

  /** Wipe the private key (on key rotation or shutdown); peers made from this identity must be remade. */
  destroy(): void {
    wipe(this.privateKey);
  }
}

/** What the handshake needs to know about one peer, and the state it keeps per peer. */
export class HandshakePeer {
  readonly publicKey: Uint8Array;
  /** Q; 32 zero bytes when none is configured. */
  readonly presharedKey: Uint8Array;
  /** DH(Spriv_local, Spub_peer): fixed for the pair, so computed once (whitepaper 5.4.2 does it per message). */
  readonly staticShared: Uint8Array;
  /** HASH(H0 || Spub_peer): the initiator's starting hash for handshakes to this peer. */
  readonly initiatorHash: Uint8Array;
  /** The greatest TAI64N timestamp accepted from this peer (replay protection, whitepaper 5.1). */
  readonly lastTimestamp = new Uint8Array(TIMESTAMP_LEN);
  /** MACs on our messages to this peer and the cookie it gave us. */
  readonly cookies: CookieGenerator;

  /** Throws KEY_INVALID for a low-order public key: configuration, not wire input. */
  constructor(local: LocalIdentity, peerPublicKey: Uint8Array, presharedKey?: Uint8Array) {
    if (peerPublicKey.length !== KEY_LEN) throw new WeftError('KEY_INVALID', `a peer public key is ${KEY_LEN} bytes, got ${peerPublicKey.length}`);
    if (presharedKey !== undefined && presharedKey.length !== KEY_LEN) {
      throw new WeftError('KEY_INVALID', `a preshared key is ${KEY_LEN} bytes, got ${presharedKey.length}`);
    }
    const ss = sharedSecret(local.privateKey, peerPublicKey);
    if (ss === null) throw new WeftError('KEY_INVALID', 'peer public key is a low-order point (the shared secret would be all zeros)');
    this.publicKey = peerPublicKey.slice();
    this.presharedKey = presharedKey === undefined ? new Uint8Array(KEY_LEN) : presharedKey.slice();
    this.staticShared = ss;
    this.initiatorHash = hash(INITIAL_HASH, this.publicKey);
    this.cookies = new CookieGenerator(this.publicKey);
  }

  /** Wipe the long-lived secrets held for this peer (on removal). */
  destroy(): void {
    wipe(this.staticShared);
    wipe(this.presharedKey);
  }
}
