/**
 * What the WireGuard encapsulation's parts share: the ring and transport, our
 * identity, the session index table, its peers (by key via the node's table), the drop
 * counters, the clocks; and the few operations every part needs (send a
 * handshake message, install and retire keypairs).
 */
import type { PacketRing } from '../buf/packet-ring.ts';
import type { AeadViews } from '../crypto/aead.ts';
import type { ReasonCounters } from '../dataplane/counters.ts';
import type { Transport } from '../transport/transport.ts';
import type { LocalIdentity } from './identity.ts';
import type { IndexTable } from './index-table.ts';
import type { Keypair } from './keypair.ts';
import type { Handshake } from './noise.ts';
import type { WgPeer } from './peer.ts';

export const WG_DROP_NAMES = [
  'short',
  'bad_type',
  'bad_mac1',
  'unknown_peer',
  'handshake_decrypt',
  'handshake_replay',
  'bad_key',
  'wrong_state',
  'unknown_index',
  'data_replay',
  'bad_auth',
  'bad_ip',
  'spoofed_source',
  'no_route',
  'no_endpoint',
  'keypair_expired',
  'staged_overflow',
  'handshake_timeout',
  'no_room',
  'ring_full',
  'handshake_flood',
  'cookie_invalid',
  'under_load',
  'rate_limited',
  'handshake_queue_full',
] as const;
export type WgDropName = (typeof WG_DROP_NAMES)[number];

/** Indices into WG_DROP_NAMES, for the packet path. */
export const WgDrop = {
  Short: 0,
  BadType: 1,
  BadMac1: 2,
  UnknownPeer: 3,
  HandshakeDecrypt: 4,
  HandshakeReplay: 5,
  BadKey: 6,
  WrongState: 7,
  UnknownIndex: 8,
  DataReplay: 9,
  BadAuth: 10,
  BadIp: 11,
  SpoofedSource: 12,
  NoRoute: 13,
  NoEndpoint: 14,
  KeypairExpired: 15,
  StagedOverflow: 16,
  HandshakeTimeout: 17,
  NoRoom: 18,
  RingFull: 19,
  HandshakeFlood: 20,
  CookieInvalid: 21,
  /** An initiation without a valid MAC2 while under load: answered with a cookie reply instead. */
  UnderLoad: 22,
  /** Under load, a source past its token bucket (or the tick's cookie budget is spent). */
  RateLimited: 23,
  /** The queue of admitted initiations waiting for their X25519 work was full. */
  HandshakeQueueFull: 24,
} as const;

/** What a session index names: a handshake we initiated, or a keypair. */
export interface IndexEntry {
  peer: WgPeer;
  handshake: Handshake | undefined;
  keypair: Keypair | undefined;
}

export interface HandshakeStats {
  initiationsSent: number;
  initiationsReceived: number;
  /** Initiations that got past MAC1 (and, under load, MAC2 and the rate limit) to the X25519 work. */
  initiationsProcessed: number;
  responsesSent: number;
  completed: number;
  cookieRepliesSent: number;
  keepalivesSent: number;
}

export interface WgState {
  readonly ring: PacketRing;
  readonly transport: Transport;
  local: LocalIdentity;
  readonly indices: IndexTable<IndexEntry>;
  /** This encapsulation's peers (the timer tick walks them). */
  readonly peers: Set<WgPeer>;
  /** One of them by lowercase hex public key, from the node's peer table. */
  peerByKey(hex: string): WgPeer | undefined;
  readonly drops: ReasonCounters<WgDropName>;
  readonly handshakes: HandshakeStats;
  readonly views: AeadViews;
  readonly mtu: number;
  /** Protocol times are multiplied by this (tests shorten them). */
  readonly scale: number;
  /** Monotonic milliseconds, precise; for cold paths (it allocates a number per call). */
  now(): number;
  /**
   * The coarse clock the packet path reads: element 0 holds monotonic ms as
   * of the last timer tick or handshake event. A typed array, because
   * reading the clock per packet would box a number per packet.
   */
  readonly coarse: Float64Array;
  /** Wall-clock milliseconds since the epoch (TAI64N timestamps, wg show). */
  wallNow(): number;
}

/** Copy a handshake message into a fresh slot and send it to the peer. False if it could not go. */
export function sendMessage(state: WgState, peer: WgPeer, message: Uint8Array): boolean {
  if (peer.endpoint === undefined) {
    state.drops.add(WgDrop.NoEndpoint);
    return false;
  }
  const slot = state.ring.acquire();
  if (slot < 0) {
    state.drops.add(WgDrop.RingFull);
    return false;
  }
  state.ring.bytes.set(message, state.ring.offset[slot]!);
  state.ring.length[slot] = message.length;
  peer.lastSentMs = state.coarse[0]!;
  peer.traffic.txBytes += message.length;
  state.transport.send(slot, peer.endpoint);
  return true;
}

/** Forget a keypair: its index stops resolving and its keys are zeroed. */
export function retireKeypair(state: WgState, keypair: Keypair | undefined): void {
  if (keypair === undefined) return;
  const entry = state.indices.get(keypair.localIndex);
  if (entry !== undefined && entry.keypair === keypair) state.indices.delete(keypair.localIndex);
  keypair.destroy();
}

/** Make `keypair` the one we send with; the old current becomes previous (still receives). */
export function promoteKeypair(state: WgState, peer: WgPeer, keypair: Keypair): void {
  if (peer.previous !== undefined && peer.previous !== keypair) retireKeypair(state, peer.previous);
  peer.previous = peer.current;
  peer.current = keypair;
  if (peer.next === keypair) peer.next = undefined;
}

/** Drop every keypair and handshake of a peer (removed, or its keys expired). */
export function clearSessions(state: WgState, peer: WgPeer): void {
  for (const kp of [peer.current, peer.previous, peer.next]) retireKeypair(state, kp);
  peer.current = peer.previous = peer.next = undefined;
  if (peer.handshake !== undefined) {
    state.indices.delete(peer.handshake.localIndex);
    peer.handshake.wipe();
    peer.handshake = undefined;
  }
  peer.handshakeInFlight = false;
}
