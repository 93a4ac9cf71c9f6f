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
import { Keypair } from './keypair.ts';
import { Verdict } from './messages.ts';
import { consumeInitiation, consumeResponse, createInitiation, createResponse, deriveKeypair } from './noise.ts';
import type { SessionKeys } from './noise.ts';
import type { WgPeer } from './peer.ts';
import { WgDrop, keyHex, promoteKeypair, retireKeypair, sendMessage } from './wg-state.ts';
import type { IndexEntry, WgState } from './wg-state.ts';

/** More initiations than this per timer tick means we are under load: require cookies (MAC2). */
export const INITIATIONS_PER_TICK_BEFORE_LOAD = 64;

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

/** The address a cookie is bound to: the sender's IP text and port, as bytes. */
function sourceBytes(address: string, port: number): Uint8Array {
  return Buffer.from(`${address}|${port}`);
}

export class Handshaker {
  /** Initiations consumed since the last tick; the load signal. */
  initiationsThisTick = 0;
  /** Called when a peer has a new current keypair, to send what it staged. */
  onKeypair: (peer: WgPeer) => void = () => {};

  constructor(private readonly state: WgState) {}

  get underLoad(): boolean {
    return this.initiationsThisTick > INITIATIONS_PER_TICK_BEFORE_LOAD;
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
    peer.handshakeInFlight = true;
    peer.lastInitiationMs = now;
    peer.retryJitterMs = randomInt(REKEY_TIMEOUT_JITTER_MAX + 1);
    if (sendMessage(state, peer, message)) state.handshakes.initiationsSent++;
  }

  /** Answer an initiation (type 1). Returns false when it was dropped. */
  onInitiation(message: Uint8Array, fromAddress: string, fromPort: number): boolean {
    const state = this.state;
    state.handshakes.initiationsReceived++;
    const now = state.now();
    state.coarse[0] = now;
    const underLoad = this.underLoad;
    const source = underLoad ? sourceBytes(fromAddress, fromPort) : undefined;
    const result = consumeInitiation(state.local, message, (key) => state.byKey.get(keyHex(key))?.identity, {
      underLoad,
      ...(source ? { source } : {}),
      now,
    });
    if (result.verdict === Verdict.NeedsCookie && source !== undefined) {
      const reply = state.local.cookies.createReply(message, source, now);
      if (reply !== null) this.replyTo(fromAddress, fromPort, reply);
      state.drops.add(WgDrop.UnderLoad);
      return false;
    }
    if (result.verdict !== Verdict.Ok || result.handshake === null || result.peer === null) {
      dropFor(state, result.verdict);
      return false;
    }
    this.initiationsThisTick++;
    const peer = state.byKey.get(keyHex(result.peer.publicKey))!;
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
    peer.lastReceivedMs = now;
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
    peer.lastReceivedMs = now;
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

