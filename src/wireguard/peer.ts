/**
 * One WireGuard peer's state: who it is (static key, preshared key), where
 * it is (endpoint, roaming), what it may send and receive (allowed IPs), its
 * three keypair slots, the handshake we have in flight toward it, the
 * packets staged while that handshake runs, and the timestamps the timer
 * tick reads (it implements PeerClock).
 *
 * Keypair slots (whitepaper 5.4.5 and 6.1): `current` sends; `previous`
 * still receives what was in flight during a rekey; `next` is a keypair we
 * made as responder, usable only after the initiator has proven it holds it
 * by sending on it.
 */
import { Peer } from '../dataplane/peer.ts';
import type { PeerSpec, PeerStatus } from '../dataplane/peer.ts';
import { MAX_STAGED_PACKETS } from './constants.ts';
import type { HandshakePeer } from './identity.ts';
import type { Keypair } from './keypair.ts';
import type { Handshake } from './noise.ts';
import type { PeerClock } from './timers.ts';
import type { WireguardEncapsulation } from './wireguard-encapsulation.ts';

/** The peer's subnets are its allowed IPs; the table routes them and checks inner sources against them. */
export class WgPeer extends Peer implements PeerClock {
  declare publicKey: Uint8Array;
  persistentKeepaliveMs: number;
  current: Keypair | undefined;
  previous: Keypair | undefined;
  next: Keypair | undefined;
  /** The initiation we sent and await a response to. */
  handshake: Handshake | undefined;
  /** Wall-clock ms of the last completed handshake, for wg show; 0 for never. */
  lastHandshakeWallMs = 0;
  /** When we last consumed an initiation from this peer (flood limit). */
  lastInitiationConsumedMs = -Infinity;

  // PeerClock
  handshakeInFlight = false;
  attemptStartedMs = 0;
  lastInitiationMs = 0;
  retryJitterMs = 0;
  lastDataReceivedMs = 0;
  lastSentMs = 0;
  lastDataSentMs = 0;
  lastReceivedMs = 0;
  unansweredSinceMs = -1;
  handshakeWanted = false;
  /** The handshake in flight was started with no packet waiting on it. */
  attemptAheadOfTraffic = false;

  /** Slots waiting for a keypair, oldest first (a ring of MAX_STAGED_PACKETS). */
  readonly staged = new Int32Array(MAX_STAGED_PACKETS);
  stagedHead = 0;
  stagedCount = 0;

  constructor(
    spec: PeerSpec,
    publicKey: Uint8Array,
    /** The handshake's view of this peer (static DH, preshared key, cookies, last timestamp). */
    public identity: HandshakePeer,
    readonly encapsulation: WireguardEncapsulation,
  ) {
    super(spec.name, spec);
    this.publicKey = publicKey;
    this.persistentKeepaliveMs = (spec.persistentKeepalive ?? 0) * 1000;
  }

  send(slot: number): void {
    this.encapsulation.encapsulate(slot, this);
  }

  override status(): PeerStatus {
    const psk = this.identity.presharedKey;
    return {
      ...super.status(),
      publicKey: this.publicKey,
      lastHandshakeWallMs: this.lastHandshakeWallMs,
      persistentKeepalive: this.persistentKeepaliveMs / 1000,
      ...(psk.some((b) => b !== 0) ? { presharedKey: psk } : {}),
    };
  }

  /** Something authenticated arrived from this peer: it is alive, nothing is unanswered. */
  heardFrom(now: number): void {
    this.lastReceivedMs = now;
    this.unansweredSinceMs = -1;
  }

  get keypairCreatedMs(): number {
    return this.current ? this.current.createdMs : -1;
  }

  get keypairInitiator(): boolean {
    return this.current ? this.current.initiator : false;
  }

  get hasStaged(): boolean {
    return this.stagedCount > 0;
  }

  /** Queue a slot; when full, returns the oldest slot to drop (else -1). */
  stage(slot: number): number {
    const cap = this.staged.length;
    let evicted = -1;
    if (this.stagedCount === cap) {
      evicted = this.staged[this.stagedHead]!;
      this.stagedHead = (this.stagedHead + 1) % cap;
      this.stagedCount--;
    }
    this.staged[(this.stagedHead + this.stagedCount) % cap] = slot;
    this.stagedCount++;
    return evicted;
  }

  /** Take the oldest staged slot, or -1. */
  unstage(): number {
    if (this.stagedCount === 0) return -1;
    const slot = this.staged[this.stagedHead]!;
    this.stagedHead = (this.stagedHead + 1) % this.staged.length;
    this.stagedCount--;
    return slot;
  }
}
