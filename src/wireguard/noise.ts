/**
 * WireGuard's handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, written from
 * the whitepaper (5.4.2 - 5.4.6) and wireguard.com/protocol. Symbols follow
 * the whitepaper: C the chaining key, H the hash, E/S ephemeral/static keys,
 * Q the preshared key (32 zero bytes when none is configured: psk2 mode is
 * always on, a zero Q simply adds nothing secret).
 *
 *   initiator                                  responder
 *   createInitiation  -- initiation (148) -->  consumeInitiation
 *   consumeResponse   <-- response (92) -----  createResponse
 *   deriveKeypair                              deriveKeypair
 *
 * Wire input never throws and never half-applies: the consume functions
 * compute into locals and write the handshake (or the peer's timestamp) only
 * when every check passed, returning a Verdict otherwise. Local faults (a
 * low-order static key in the config, a call in the wrong state) throw
 * WeftError.
 *
 * The long-lived keys (our identity, each peer's public and preshared key,
 * and what is precomputed from them) are in identity.ts.
 *
 * Cold path: a handshake happens per peer every two minutes at most, so this
 * code allocates freely; what it does carefully is wipe ephemeral private
 * keys and intermediate chaining keys once they are consumed.
 */
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { readU32LE, writeU32LE } from '../bytes/endian.ts';
import { aeadOpen, aeadSeal } from '../crypto/aead.ts';
import { hash, kdf1, kdf2, kdf3 } from '../crypto/hash.ts';
import { wipe } from '../crypto/keys.ts';
import { compareTai64n, tai64nNow } from '../crypto/tai64n.ts';
import { generatePrivateKey, publicKey, sharedSecret } from '../crypto/x25519.ts';
import { WeftError } from '../errors.ts';
import { INITIAL_CHAIN_KEY } from './identity.ts';
import type { HandshakePeer, LocalIdentity } from './identity.ts';
import {
  INIT_EPHEMERAL, INIT_LEN, INIT_SENDER, INIT_STATIC, INIT_STATIC_LEN, INIT_TIMESTAMP, INIT_TIMESTAMP_LEN,
  KEY_LEN, MessageType, RESP_EMPTY, RESP_EMPTY_LEN, RESP_EPHEMERAL, RESP_LEN, RESP_RECEIVER, RESP_SENDER,
  TIMESTAMP_LEN, Verdict, messageType, writeType
} from './messages.ts';

// The identity types and constants are part of the handshake's API; callers import them from here.
export { CONSTRUCTION, HandshakePeer, IDENTIFIER, INITIAL_CHAIN_KEY, INITIAL_HASH, LocalIdentity } from './identity.ts';

const EMPTY = new Uint8Array(0);

/** Where a handshake stands. Each consume/create moves it one step; deriveKeypair returns it to Zeroed. */
export const HandshakeState = {
  Zeroed: 0,
  InitiationCreated: 1,
  InitiationConsumed: 2,
  ResponseCreated: 3,
  ResponseConsumed: 4,
} as const;
export type HandshakeState = (typeof HandshakeState)[keyof typeof HandshakeState];
export const handshakeStateNames: readonly string[] = ['zeroed', 'initiation-created', 'initiation-consumed', 'response-created', 'response-consumed'];

/** One handshake in progress, on either side. */
export class Handshake {
  state: HandshakeState = HandshakeState.Zeroed;
  readonly local: LocalIdentity;
  readonly peer: HandshakePeer;
  readonly isInitiator: boolean;
  /** Our index for this session (we choose it: at once as initiator, in createResponse as responder). */
  localIndex: number;
  /** The peer's index (from its message); 0 until known. */
  remoteIndex = 0;
  chainKey: Uint8Array;
  hash: Uint8Array;
  /** Our ephemeral private key, wiped once both DHs that need it are done. */
  ephemeralPrivate: Uint8Array = new Uint8Array(KEY_LEN);
  remoteEphemeral: Uint8Array = new Uint8Array(KEY_LEN);

  constructor(local: LocalIdentity, peer: HandshakePeer, isInitiator: boolean, localIndex: number, chainKey: Uint8Array, h: Uint8Array) {
    this.local = local;
    this.peer = peer;
    this.isInitiator = isInitiator;
    this.localIndex = localIndex >>> 0;
    this.chainKey = chainKey;
    this.hash = h;
  }

  /** Forget everything secret; the handshake can no longer progress. */
  wipe(): void {
    wipe(this.chainKey);
    wipe(this.hash);
    wipe(this.ephemeralPrivate);
    this.state = HandshakeState.Zeroed;
  }
}

/**
 * Transport keys for one session (whitepaper 5.4.5): the fields keypair.ts's
 * Keypair is constructed from (it adds the counter, replay window and age).
 */
export interface SessionKeys {
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
  /** Receiver index the peer writes in messages to us. */
  readonly localIndex: number;
  /** Receiver index we write in messages to the peer. */
  readonly remoteIndex: number;
  /** The initiator may send at once; the responder must first receive (whitepaper 5.4.5, key confirmation). */
  readonly initiator: boolean;
}

export interface CreateOptions {
  /** Our session index; random when absent (the index table, later, will choose it). */
  index?: number;
  /** Milliseconds since the Unix epoch for the TAI64N timestamp (initiation only). */
  wallClockMs?: number;
  /** Monotonic milliseconds for cookie freshness. */
  now?: number;
}

export interface ConsumeOptions {
  /** When true, MAC2 must be valid for `source` or the verdict is NeedsCookie. */
  underLoad?: boolean;
  /** The sender's address bytes, as given to CookieChecker.createReply. */
  source?: Uint8Array;
  now?: number;
  /** The caller has checked MAC1 (and MAC2 if needed) already; skip the gate. */
  macsChecked?: boolean;
}

function randomIndex(): number {
  const b = new Uint8Array(4);
  randomFillSync(b);
  return readU32LE(b, 0);
}

/** Replace `old` by `next`, wiping `old`: a chaining key must not outlive its successor. */
function advance(old: Uint8Array, next: Uint8Array): Uint8Array {
  wipe(old);
  return next;
}

/** Build an initiation to `peer`. The returned handshake is InitiationCreated and awaits the response. */
export function createInitiation(local: LocalIdentity, peer: HandshakePeer, options: CreateOptions = {}): { message: Uint8Array; handshake: Handshake } {
  const msg = new Uint8Array(INIT_LEN);
  const hs = new Handshake(local, peer, true, options.index ?? randomIndex(), INITIAL_CHAIN_KEY.slice(), peer.initiatorHash.slice());
  writeType(msg, 0, MessageType.Initiation);
  writeU32LE(msg, INIT_SENDER, hs.localIndex);

  // (Ei_priv, Ei_pub) = DH-GENERATE(); C = KDF1(C, Ei_pub); H = HASH(H || Ei_pub)
  hs.ephemeralPrivate = generatePrivateKey();
  const ePub = publicKey(hs.ephemeralPrivate);
  msg.set(ePub, INIT_EPHEMERAL);
  hs.chainKey = advance(hs.chainKey, kdf1(hs.chainKey, ePub));
  hs.hash = hash(hs.hash, ePub);

  // (C, k) = KDF2(C, DH(Ei_priv, Sr_pub)); static = AEAD(k, 0, Si_pub, H); H = HASH(H || static)
  const es = sharedSecret(hs.ephemeralPrivate, peer.publicKey);
  // peer.publicKey was checked for low order when the peer was configured, and a
  // clamped scalar times a point of large order is never zero.
  if (es === null) throw new WeftError('KEY_INVALID', 'peer public key gave an all-zero shared secret');
  let [c, k] = kdf2(hs.chainKey, es);
  wipe(es);
  hs.chainKey = advance(hs.chainKey, c);
  const sealedStatic = aeadSeal(k, 0n, local.publicKey, hs.hash);
  wipe(k);
  msg.set(sealedStatic, INIT_STATIC);
  hs.hash = hash(hs.hash, sealedStatic);

  // (C, k) = KDF2(C, DH(Si_priv, Sr_pub)); timestamp = AEAD(k, 0, TAI64N(), H); H = HASH(H || timestamp)
  [c, k] = kdf2(hs.chainKey, peer.staticShared);
  hs.chainKey = advance(hs.chainKey, c);
  const ts = new Uint8Array(TIMESTAMP_LEN);
  tai64nNow(ts, 0, options.wallClockMs);
  const sealedTs = aeadSeal(k, 0n, ts, hs.hash);
  wipe(k);
  msg.set(sealedTs, INIT_TIMESTAMP);
  hs.hash = hash(hs.hash, sealedTs);

  peer.cookies.addMacs(msg, options.now ?? performance.now());
  hs.state = HandshakeState.InitiationCreated;
  return { message: msg, handshake: hs };
}

export interface InitiationResult {
  verdict: Verdict;
  /** The initiator, when verdict is Ok. */
  peer: HandshakePeer | null;
  /** An InitiationConsumed handshake, when verdict is Ok; pass it to createResponse. */
  handshake: Handshake | null;
}

/**
 * Consume an initiation sent to us. `lookup` finds the configured peer with
 * the decrypted static key (undefined: UnknownPeer). On Ok the peer's
 * timestamp moves forward; on any other verdict nothing changes.
 */
export function consumeInitiation(
  local: LocalIdentity,
  msg: Uint8Array,
  lookup: (staticPublicKey: Uint8Array) => HandshakePeer | undefined,
  options: ConsumeOptions = {},
): InitiationResult {
  const fail = (verdict: Verdict): InitiationResult => ({ verdict, peer: null, handshake: null });
  if (msg.length !== INIT_LEN) return fail(Verdict.BadLength);
  if (messageType(msg, 0, msg.length) !== MessageType.Initiation) return fail(Verdict.BadType);
  if (options.macsChecked !== true) {
    const gate = local.cookies.check(msg, options.underLoad === true, options.source, options.now ?? performance.now());
    if (gate !== Verdict.Ok) return fail(gate);
  }

  // C = KDF1(C0, Ei_pub); H = HASH(HASH(H0 || Sr_pub) || Ei_pub)
  const ePub = msg.slice(INIT_EPHEMERAL, INIT_EPHEMERAL + KEY_LEN);
  let chain = kdf1(INITIAL_CHAIN_KEY, ePub);
  let h = hash(local.responderHash, ePub);
  // Every rejection from here on wipes the chaining key reached so far.
  const reject = (verdict: Verdict): InitiationResult => {
    wipe(chain);
    return fail(verdict);
  };

  // (C, k) = KDF2(C, DH(Sr_priv, Ei_pub)); Si_pub = AEAD-open(k, 0, static, H)
  const es = sharedSecret(local.privateKey, ePub);
  if (es === null) return reject(Verdict.BadKey);
  let [c, k] = kdf2(chain, es);
  wipe(es);
  chain = advance(chain, c);
  const sealedStatic = msg.subarray(INIT_STATIC, INIT_STATIC + INIT_STATIC_LEN);
  const sPub = aeadOpen(k, 0n, sealedStatic, h);
  wipe(k);
  if (sPub === null) return reject(Verdict.DecryptFailed);
  h = hash(h, sealedStatic);
  const peer = lookup(sPub);
  if (peer === undefined) return reject(Verdict.UnknownPeer);

  // (C, k) = KDF2(C, DH(Sr_priv, Si_pub)); timestamp = AEAD-open(k, 0, timestamp, H)
  [c, k] = kdf2(chain, peer.staticShared);
  chain = advance(chain, c);
  const sealedTs = msg.subarray(INIT_TIMESTAMP, INIT_TIMESTAMP + INIT_TIMESTAMP_LEN);
  const ts = aeadOpen(k, 0n, sealedTs, h);
  wipe(k);
  if (ts === null) return reject(Verdict.DecryptFailed);
  // Replay: a captured initiation is authentic forever, so only a strictly newer
  // timestamp from this peer may start a handshake (whitepaper 5.1).
  if (compareTai64n(ts, 0, peer.lastTimestamp, 0) <= 0) return reject(Verdict.Replay);
  h = hash(h, sealedTs);

  // Every check passed: commit.
  peer.lastTimestamp.set(ts);
  const hs = new Handshake(local, peer, false, 0, chain, h);
  hs.remoteIndex = readU32LE(msg, INIT_SENDER);
  hs.remoteEphemeral = ePub;
  hs.state = HandshakeState.InitiationConsumed;
  return { verdict: Verdict.Ok, peer, handshake: hs };
}

/**
 * Build the response to a consumed initiation. The handshake becomes
 * ResponseCreated; call deriveKeypair next. Calling it in another state is a
 * programming error (WeftError HANDSHAKE_STATE). `options.index` is our
 * session index (random when absent).
 */
export function createResponse(hs: Handshake, options: CreateOptions = {}): Uint8Array {
  if (hs.isInitiator || hs.state !== HandshakeState.InitiationConsumed) {
    throw new WeftError('HANDSHAKE_STATE', `createResponse needs a consumed initiation, the handshake is ${handshakeStateNames[hs.state]}`);
  }
  hs.localIndex = (options.index ?? randomIndex()) >>> 0;
  const msg = new Uint8Array(RESP_LEN);
  writeType(msg, 0, MessageType.Response);
  writeU32LE(msg, RESP_SENDER, hs.localIndex);
  writeU32LE(msg, RESP_RECEIVER, hs.remoteIndex);

  // (Er_priv, Er_pub) = DH-GENERATE(); C = KDF1(C, Er_pub); H = HASH(H || Er_pub)
  hs.ephemeralPrivate = generatePrivateKey();
  const ePub = publicKey(hs.ephemeralPrivate);
  msg.set(ePub, RESP_EPHEMERAL);
  hs.chainKey = advance(hs.chainKey, kdf1(hs.chainKey, ePub));
  hs.hash = hash(hs.hash, ePub);

  // C = KDF1(C, DH(Er_priv, Ei_pub)); C = KDF1(C, DH(Er_priv, Si_pub))
  const ee = sharedSecret(hs.ephemeralPrivate, hs.remoteEphemeral);
  const se = sharedSecret(hs.ephemeralPrivate, hs.peer.publicKey);
  wipe(hs.ephemeralPrivate);
  // Ei_pub passed the all-zero check in consumeInitiation and Si_pub when configured.
  if (ee === null || se === null) throw new WeftError('KEY_INVALID', 'a handshake public key gave an all-zero shared secret');
  hs.chainKey = advance(hs.chainKey, kdf1(hs.chainKey, ee));
  hs.chainKey = advance(hs.chainKey, kdf1(hs.chainKey, se));
  wipe(ee);
  wipe(se);

  // (C, t, k) = KDF3(C, Q); H = HASH(H || t); empty = AEAD(k, 0, e, H); H = HASH(H || empty)
  const [c, t, k] = kdf3(hs.chainKey, hs.peer.presharedKey);
  hs.chainKey = advance(hs.chainKey, c);
  hs.hash = hash(hs.hash, t);
  wipe(t);
  const sealedEmpty = aeadSeal(k, 0n, EMPTY, hs.hash);
  wipe(k);
  msg.set(sealedEmpty, RESP_EMPTY);
  hs.hash = hash(hs.hash, sealedEmpty);

  hs.peer.cookies.addMacs(msg, options.now ?? performance.now());
  hs.state = HandshakeState.ResponseCreated;
  return msg;
}

/**
 * Consume the response to our initiation. Ok moves the handshake to
 * ResponseConsumed (call deriveKeypair next); any other verdict leaves it
 * exactly as it was, so a forged response cannot spoil a genuine one that
 * arrives after it.
 */
export function consumeResponse(hs: Handshake, msg: Uint8Array, options: ConsumeOptions = {}): Verdict {
  if (msg.length !== RESP_LEN) return Verdict.BadLength;
  if (messageType(msg, 0, msg.length) !== MessageType.Response) return Verdict.BadType;
  if (!hs.isInitiator || hs.state !== HandshakeState.InitiationCreated) return Verdict.WrongState;
  if (readU32LE(msg, RESP_RECEIVER) !== hs.localIndex) return Verdict.WrongIndex;
  const gate = hs.local.cookies.check(msg, options.underLoad === true, options.source, options.now ?? performance.now());
  if (gate !== Verdict.Ok) return gate;

  // C = KDF1(C, Er_pub); H = HASH(H || Er_pub)
  const ePub = msg.subarray(RESP_EPHEMERAL, RESP_EPHEMERAL + KEY_LEN);
  let chain = kdf1(hs.chainKey, ePub);
  let h = hash(hs.hash, ePub);

  // C = KDF1(C, DH(Ei_priv, Er_pub)); C = KDF1(C, DH(Si_priv, Er_pub))
  const ee = sharedSecret(hs.ephemeralPrivate, ePub);
  const se = sharedSecret(hs.local.privateKey, ePub);
  if (ee === null || se === null) {
    // A low-order Er_pub zeroes both; wipe whatever came out anyway.
    for (const x of [chain, ee, se]) if (x !== null) wipe(x);
    return Verdict.BadKey;
  }
  chain = advance(chain, kdf1(chain, ee));
  chain = advance(chain, kdf1(chain, se));
  wipe(ee);
  wipe(se);

  // (C, t, k) = KDF3(C, Q); H = HASH(H || t); AEAD-open(k, 0, empty, H); H = HASH(H || empty)
  const [c, t, k] = kdf3(chain, hs.peer.presharedKey);
  chain = advance(chain, c);
  h = hash(h, t);
  wipe(t);
  const sealedEmpty = msg.subarray(RESP_EMPTY, RESP_EMPTY + RESP_EMPTY_LEN);
  const opened = aeadOpen(k, 0n, sealedEmpty, h);
  wipe(k);
  if (opened === null) {
    wipe(chain); // a wrong preshared key ends here
    return Verdict.DecryptFailed;
  }
  h = hash(h, sealedEmpty);

  // Commit.
  wipe(hs.ephemeralPrivate);
  wipe(hs.chainKey);
  wipe(hs.hash);
  hs.chainKey = chain;
  hs.hash = h;
  hs.remoteIndex = readU32LE(msg, RESP_SENDER);
  hs.state = HandshakeState.ResponseConsumed;
  return Verdict.Ok;
}

/**
 * (T1, T2) = KDF2(C, e): the initiator sends with T1 and receives with T2,
 * the responder the other way round (whitepaper 5.4.5). Then every secret of
 * the handshake is wiped and it returns to Zeroed. Valid after
 * ResponseConsumed (initiator) or ResponseCreated (responder); otherwise a
 * programming error (WeftError HANDSHAKE_STATE).
 */
export function deriveKeypair(hs: Handshake): SessionKeys {
  const ready = hs.isInitiator ? HandshakeState.ResponseConsumed : HandshakeState.ResponseCreated;
  if (hs.state !== ready) {
    throw new WeftError('HANDSHAKE_STATE', `deriveKeypair needs ${handshakeStateNames[ready]}, the handshake is ${handshakeStateNames[hs.state]}`);
  }
  const [t1, t2] = kdf2(hs.chainKey, EMPTY);
  const kp: SessionKeys = {
    sendKey: hs.isInitiator ? t1 : t2,
    receiveKey: hs.isInitiator ? t2 : t1,
    localIndex: hs.localIndex,
    remoteIndex: hs.remoteIndex,
    initiator: hs.isInitiator,
  };
  hs.wipe();
  return kp;
}
