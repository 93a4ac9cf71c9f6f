/**
 * The handshake side of the backend: starting a handshake toward a peer,
 * answering initiations, taking responses and cookie replies, and turning a
 * finished handshake into a keypair in the right slot. Cold path: handshake
 * messages are copied out of the ring and may allocate.
 *
 * Who confirms whom (whitepaper 5.4.5 and 6.1): the initiator may send on the
 * new keypair at once; the responder keeps it as `next` until data arrives on
 * it. So an initiator with nothing staged sends a keepalive right away, which
 * lets the responder start sending too.
 */
import { randomInt } from 'node:crypto';
import { HANDSHAKE_INITIATION_RATE, REKEY_TIMEOUT_JITTER_MAX } from './constants.ts';
import { TokenBuckets } from '../dataplane/token-buckets.ts';
import { COOKIE_REPLIES_PER_TICK, HandshakeLoad, PER_SOURCE_LIMIT } from './handshake-load.ts';
import { Keypair } from './keypair.ts';
import { INIT_MAC2, MAC_LEN, Verdict } from './messages.ts';
import { consumeInitiation, consumeResponse, createInitiation, createResponse, deriveKeypair } from './noise.ts';
import type { SessionKeys } from './noise.ts';
import type { WgPeer } from './peer.ts';
import { keyHex } from '../dataplane/peer-table.ts';
import { WgDrop, promoteKeypair, retireKeypair, sendMessage } from './wg-state.ts';
import type { IndexEntry, WgState } from './wg-state.ts';

/** Verdicts of the handshake functions, as drop reasons. */
const VERDICT_DROP: readonly number[] = [
  -1, // Ok
  WgDrop.Short, // BadLength
  WgDrop.BadType,
  WgDrop.BadMac1,
  WgDrop.UnderLoad, // NeedsCookie
  WgDrop.UnknownPeer,
  WgDrop.HandshakeDecrypt,
  WgDrop.HandshakeReplay,
  WgDrop.BadKey,
  WgDrop.WrongState,
  WgDrop.UnknownIndex, // WrongIndex
];

function dropFor(state: WgState, verdict: number): void {
  state.drops.add(VERDICT_DROP[verdict] ?? WgDrop.BadType);
}

/** MAC2 of a whole initiation is all zeros. */
function isZeroMac2(message: Uint8Array): boolean {
  let bits = 0;
  for (let i = INIT_MAC2; i < INIT_MAC2 + MAC_LEN; i++) bits |= message[i]!;
  return bits === 0;
}

/** The address a cookie is bound to: the sender's IP text and port, as bytes. */
function sourceBytes(address: string, port: number): Uint8Array {
  return Buffer.from(`${address}|${port}`);
}

export class Handshaker {
  /** Handshake work arriving (valid MAC1), the load signal; see handshake-load.ts. */
  readonly load: HandshakeLoad;
  /** Everything answered while under load, per source address. */
  readonly limiter = new TokenBuckets(PER_SOURCE_LIMIT);
  private cookieBudget = COOKIE_REPLIES_PER_TICK;
  /**
   * Where our peers were at the last tick. Their cookie replies do not come
   * out of the global budget, so a flood from many spoofed sources cannot
   * starve a real peer of the cookie it needs (a forger who spoofs a peer's
   * address only sends that peer a cookie; the per-source bucket still holds).
   */
  private readonly peerAddresses = new Set<string>();
  /** Called when a peer has a new current keypair, to send what it staged. */
  onKeypair: (peer: WgPeer) => void = () => {};

  constructor(private readonly state: WgState) {
    this.load = new HandshakeLoad(state.scale);
  }

  get underLoad(): boolean {
    return this.load.underLoad(this.state.now());
  }

  /** The timer tick: a new counting window, a new cookie budget, where our peers are now. */
  newTick(): void {
    this.load.newTick();
    this.cookieBudget = COOKIE_REPLIES_PER_TICK;
    this.peerAddresses.clear();
    for (const peer of this.state.peers) if (peer.endpoint !== undefined) this.peerAddresses.add(peer.endpoint.address);
  }

  /** Send a (new) initiation to `peer`, replacing any in flight. */
  initiate(peer: WgPeer): void {
    const state = this.state;
    if (peer.endpoint === undefined) {
      state.drops.add(WgDrop.NoEndpoint);
      return;
    }
    const now = state.now();
    state.coarse[0] = now;
    if (peer.handshake !== undefined) {
      state.indices.delete(peer.handshake.localIndex);
      peer.handshake.wipe();
    }
    const entry: IndexEntry = { peer, handshake: undefined, keypair: undefined };
    const index = state.indices.allocate(entry);
    const { message, handshake } = createInitiation(state.local, peer.identity, { index, wallClockMs: state.wallNow(), now });
    entry.handshake = handshake;
    peer.handshake = handshake;
    if (!peer.handshakeInFlight) peer.attemptStartedMs = now;
    // Started with nothing waiting on it (start-up, persistent keepalive), or for traffic.
    peer.attemptAheadOfTraffic = (!peer.handshakeInFlight || peer.attemptAheadOfTraffic) && peer.stagedCount === 0;
    peer.handshakeInFlight = true;
    peer.lastInitiationMs = now;
    // This attempt answers whatever asked for it; its own retries take over from here.
    peer.unansweredSinceMs = -1;
    peer.handshakeWanted = false;
    peer.retryJitterMs = randomInt(REKEY_TIMEOUT_JITTER_MAX + 1);
    if (sendMessage(state, peer, message)) state.handshakes.initiationsSent++;
  }

  /** Answer an initiation (type 1) at once: MAC1, the load gate, the handshake. False when it was dropped. */
  onInitiation(message: Uint8Array, fromAddress: string, fromPort: number): boolean {
    return this.checkMac1(message) && this.answerInitiation(message, fromAddress, fromPort);
  }

  /**
   * The first, cheapest check (one BLAKE2s): MAC1 proves the sender knows our
   * public key. Everything without it is dropped here, in the receive batch.
   */
  checkMac1(message: Uint8Array): boolean {
    const state = this.state;
    state.handshakes.initiationsReceived++;
    if (!state.local.cookies.checkMac1(message)) {
      state.drops.add(WgDrop.BadMac1);
      return false;
    }
    // Handshake work arriving, counted as it arrives, so load is seen before the work is done.
    this.load.arrive(state.now());
    return true;
  }

  /**
   * An initiation with a valid MAC1 (checkMac1 counted it): under load it needs a valid MAC2 (else it earns a cookie reply) and a
   * token from its source's bucket before any X25519. False when dropped.
   */
  answerInitiation(message: Uint8Array, fromAddress: string, fromPort: number): boolean {
    const state = this.state;
    const now = state.now();
    state.coarse[0] = now;
    if (this.load.underLoad(now)) {
      const cookies = state.local.cookies;
      const source = sourceBytes(fromAddress, fromPort);
      // A sender holding no cookie writes MAC2 as zeros (whitepaper 5.4.4): no MAC to compute.
      if (isZeroMac2(message) || !cookies.checkMac2(message, source, now)) {
        this.answerWithCookie(message, source, fromAddress, fromPort, now);
        state.drops.add(WgDrop.UnderLoad);
        return false;
      }
      if (!this.limiter.take(fromAddress, now)) {
        state.drops.add(WgDrop.RateLimited);
        return false;
      }
    }
    return this.processInitiation(message, fromAddress, fromPort);
  }

  /** The costly part of an admitted initiation: X25519, the response, a keypair. False when it was dropped. */
  private processInitiation(message: Uint8Array, fromAddress: string, fromPort: number): boolean {
    const state = this.state;
    const now = state.now();
    state.coarse[0] = now;
    state.handshakes.initiationsProcessed++;
    const result = consumeInitiation(state.local, message, (key) => state.peerByKey(keyHex(key))?.identity, { macsChecked: true, now });
    if (result.verdict !== Verdict.Ok || result.handshake === null || result.peer === null) {
      dropFor(state, result.verdict);
      return false;
    }
    const peer = state.peerByKey(keyHex(result.peer.publicKey))!;
    if (now - peer.lastInitiationConsumedMs < HANDSHAKE_INITIATION_RATE) {
      state.drops.add(WgDrop.HandshakeFlood);
      result.handshake.wipe();
      return false;
    }
    peer.lastInitiationConsumedMs = now;
    // An authenticated initiation is where the peer is now (roaming).
    this.roam(peer, fromAddress, fromPort);
    const entry: IndexEntry = { peer, handshake: undefined, keypair: undefined };
    const index = state.indices.allocate(entry);
    const response = createResponse(result.handshake, { index, now });
    const keypair = this.keypairFrom(deriveKeypair(result.handshake));
    entry.keypair = keypair;
    if (peer.next !== undefined) retireKeypair(state, peer.next);
    peer.next = keypair;
    peer.heardFrom(now);
    if (sendMessage(state, peer, response)) state.handshakes.responsesSent++;
    return true;
  }

  /** Take the response (type 2) to our initiation. Returns false when it was dropped. */
  onResponse(message: Uint8Array, receiverIndex: number, fromAddress: string, fromPort: number): boolean {
    const state = this.state;
    const entry = state.indices.get(receiverIndex);
    if (entry === undefined || entry.handshake === undefined) {
      state.drops.add(WgDrop.UnknownIndex);
      return false;
    }
    const peer = entry.peer;
    const now = state.now();
    state.coarse[0] = now;
    const verdict = consumeResponse(entry.handshake, message, { underLoad: false, now });
    if (verdict !== Verdict.Ok) {
      dropFor(state, verdict);
      return false;
    }
    const keypair = this.keypairFrom(deriveKeypair(entry.handshake));
    // The handshake's index now names the keypair.
    state.indices.replace(receiverIndex, { peer, handshake: undefined, keypair });
    peer.handshake = undefined;
    peer.handshakeInFlight = false;
    peer.heardFrom(now);
    peer.lastHandshakeWallMs = state.wallNow();
    state.handshakes.completed++;
    this.roam(peer, fromAddress, fromPort);
    promoteKeypair(state, peer, keypair);
    this.onKeypair(peer);
    return true;
  }

  /** Take a cookie reply (type 3) for the handshake it names. */
  onCookieReply(message: Uint8Array, receiverIndex: number): boolean {
    const state = this.state;
    const entry = state.indices.get(receiverIndex);
    if (entry === undefined) {
      state.drops.add(WgDrop.UnknownIndex);
      return false;
    }
    if (entry.peer.identity.cookies.consumeReply(message, state.now()) !== Verdict.Ok) {
      state.drops.add(WgDrop.CookieInvalid);
      return false;
    }
    return true;
  }

  /** The responder's keypair became confirmed: data arrived on `next`. */
  confirm(peer: WgPeer): void {
    if (peer.next === undefined) return;
    promoteKeypair(this.state, peer, peer.next);
    peer.lastHandshakeWallMs = this.state.wallNow();
    this.state.handshakes.completed++;
    this.onKeypair(peer);
  }

  /** A peer's endpoint follows the source of its latest authenticated message. */
  roam(peer: WgPeer, address: string, port: number): void {
    const e = peer.endpoint;
    if (e === undefined || e.address !== address || e.port !== port) peer.endpoint = { address, port };
  }

  private keypairFrom(keys: SessionKeys): Keypair {
    return new Keypair(keys.sendKey, keys.receiveKey, keys.localIndex, keys.remoteIndex, keys.initiator, this.state.now());
  }

  /** A cookie reply, within the per-source limit and this tick's global budget. */
  private answerWithCookie(message: Uint8Array, source: Uint8Array, address: string, port: number, now: number): void {
    const peer = this.peerAddresses.has(address);
    if ((!peer && this.cookieBudget <= 0) || !this.limiter.take(address, now)) {
      this.state.drops.add(WgDrop.RateLimited);
      return;
    }
    if (!peer) this.cookieBudget--;
    const reply = this.state.local.cookies.createReply(message, source, now);
    if (reply !== null) this.replyTo(address, port, reply);
  }

  private replyTo(address: string, port: number, message: Uint8Array): void {
    const state = this.state;
    const slot = state.ring.acquire();
    if (slot < 0) {
      state.drops.add(WgDrop.RingFull);
      return;
    }
    state.ring.bytes.set(message, state.ring.offset[slot]!);
    state.ring.length[slot] = message.length;
    state.handshakes.cookieRepliesSent++;
    state.transport.send(slot, { address, port });
  }
}

