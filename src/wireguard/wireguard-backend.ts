/**
 * The WireGuard backend: the protocol as specified (whitepaper, protocol
 * page), speaking to wireguard-go and the kernel module.
 *
 * Outbound: the inner destination picks the peer by its allowed IPs
 * (cryptokey routing); the packet is sealed in place with the current
 * keypair, or staged while a handshake runs. Inbound: the message type
 * picks the path; transport data is found by its receiver index, opened in
 * place, and delivered only if its inner source lies in the sending peer's
 * allowed IPs. Every authenticated message moves the peer's endpoint to its
 * source (roaming). One coarse tick drives every timer.
 */
import { performance } from 'node:perf_hooks';
import type { PacketRing } from '../buf/packet-ring.ts';
import { readU32LE } from '../bytes/endian.ts';
import { AeadViews } from '../crypto/aead.ts';
import { ReasonCounters } from '../dataplane/counters.ts';
import { Received } from '../dataplane/backend.ts';
import type { Backend, PeerSpec, PeerStatus } from '../dataplane/backend.ts';
import { WeftError } from '../errors.ts';
import { RouteTable } from '../route/route-table.ts';
import type { Transport } from '../transport/transport.ts';
import { IPV4_DST_OFFSET, IPV4_SRC_OFFSET, IPV6_DST_OFFSET, IPV6_SRC_OFFSET, IpVerdict, checkIpPacket } from '../wire/ip.ts';
import { EAGER_HANDSHAKES_PER_TICK, REJECT_AFTER_TIME, STARTUP_HANDSHAKE_WINDOW, TIMER_TICK } from './constants.ts';
import { Handshaker } from './handshaker.ts';
import { InitiationQueue, Submitted } from './handshake-queue.ts';
import { HandshakePeer, LocalIdentity } from './identity.ts';
import { IndexTable } from './index-table.ts';
import type { Keypair } from './keypair.ts';
import { COOKIE_REPLY_LEN, INIT_LEN, MessageType, RESP_LEN, TRANSPORT_RECEIVER, messageType } from './messages.ts';
import { WgPeer } from './peer.ts';
import { dueActions } from './timers.ts';
import { OpenResult, SealResult, TRANSPORT_MIN_LEN, WIREGUARD_OVERHEAD_IPV4, openTransport, sealTransport } from './transport-data.ts';
import { WG_DROP_NAMES, WgDrop, clearSessions, keyHex } from './wg-state.ts';
import type { HandshakeStats, IndexEntry, WgState } from './wg-state.ts';

export interface WireguardOptions {
  ring: PacketRing;
  transport: Transport;
  privateKey: Uint8Array;
  /** The TUN MTU: padding never goes past it. */
  mtu: number;
  /** Multiply every protocol time by this; tests use small values. Default 1. */
  timeScale?: number;
  now?: () => number;
  wallNow?: () => number;
}

export interface WgPeerStatus extends PeerStatus {
  publicKey: Uint8Array;
  lastHandshakeWallMs: number;
  persistentKeepalive: number;
  presharedKey: Uint8Array | undefined;
}

export class WireguardBackend implements Backend {
  readonly kind = 'wireguard';
  readonly overhead = WIREGUARD_OVERHEAD_IPV4;
  readonly state: WgState;
  readonly handshaker: Handshaker;
  private readonly routes = new RouteTable<WgPeer>();
  private readonly byName = new Map<string, WgPeer>();
  private timer: NodeJS.Timeout | undefined;
  /** Initiations waiting while under load. */
  private readonly queue: InitiationQueue;
  /** When start() ran (monotonic ms); -1 before. */
  private startedAtMs = -1;

  constructor(options: WireguardOptions) {
    const handshakes: HandshakeStats = { initiationsSent: 0, initiationsReceived: 0, initiationsProcessed: 0, responsesSent: 0, completed: 0, cookieRepliesSent: 0, keepalivesSent: 0 };
    this.state = {
      ring: options.ring,
      transport: options.transport,
      local: new LocalIdentity(options.privateKey),
      indices: new IndexTable<IndexEntry>(),
      byKey: new Map(),
      drops: new ReasonCounters(WG_DROP_NAMES),
      handshakes,
      views: new AeadViews(options.ring.bytes, options.ring.slotCount),
      mtu: options.mtu,
      scale: options.timeScale ?? 1,
      now: options.now ?? (() => performance.now()),
      coarse: new Float64Array(1),
      wallNow: options.wallNow ?? Date.now,
    };
    this.state.coarse[0] = this.state.now();
    this.handshaker = new Handshaker(this.state);
    this.handshaker.onKeypair = (peer) => this.flushStaged(peer);
    this.queue = new InitiationQueue((message, address, port) => this.handshaker.answerInitiation(message, address, port));
  }

  get publicKey(): Uint8Array {
    return this.state.local.publicKey;
  }

  /** Start the timer tick (unref'd: it never keeps the process alive by itself). */
  start(): void {
    if (this.timer) return;
    this.startedAtMs = this.state.now();
    this.timer = setInterval(() => this.tick(), Math.max(1, TIMER_TICK * Math.min(1, this.state.scale)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.queue.clear();
    for (const peer of this.byName.values()) {
      this.dropStaged(peer, WgDrop.HandshakeTimeout);
      clearSessions(this.state, peer);
    }
  }

  // ---- outbound ----------------------------------------------------------

  send(slot: number): void {
    const state = this.state;
    const ring = state.ring;
    const bytes = ring.bytes;
    const off = ring.offset[slot]!;
    if (checkIpPacket(bytes, off, ring.length[slot]!) !== IpVerdict.Ok) return this.drop(slot, WgDrop.BadIp);
    const v4 = bytes[off]! >> 4 === 4;
    const peer = v4 ? this.routes.lookupV4At(bytes, off + IPV4_DST_OFFSET) : this.routes.lookupV6At(bytes, off + IPV6_DST_OFFSET);
    if (peer === undefined) return this.drop(slot, WgDrop.NoRoute);
    const kp = this.usable(peer.current);
    if (kp === undefined || peer.endpoint === undefined) {
      if (peer.endpoint === undefined) return this.drop(slot, WgDrop.NoEndpoint);
      const evicted = peer.stage(slot);
      if (evicted >= 0) this.drop(evicted, WgDrop.StagedOverflow);
      // An attempt started ahead of traffic (start-up) may have gone to a peer not yet
      // listening: the first packet that waits on it starts a fresh one, once.
      if (!peer.handshakeInFlight || peer.attemptAheadOfTraffic) this.handshaker.initiate(peer);
      return;
    }
    this.sealAndSend(peer, kp, slot, true);
  }

  /** A keypair still inside REJECT_AFTER_TIME (on the coarse clock), or undefined. */
  private usable(kp: Keypair | undefined): Keypair | undefined {
    if (kp === undefined) return undefined;
    if (this.state.coarse[0]! - kp.createdMs >= REJECT_AFTER_TIME * this.state.scale) return undefined;
    return kp;
  }

  private sealAndSend(peer: WgPeer, kp: Keypair, slot: number, data: boolean): void {
    const state = this.state;
    const r = sealTransport(state.ring, slot, kp, state.mtu, state.views);
    if (r !== SealResult.Ok) return this.drop(slot, r === SealResult.NoRoom ? WgDrop.NoRoom : WgDrop.KeypairExpired);
    const now = state.coarse[0]!;
    peer.lastSentMs = now;
    if (data) {
      peer.lastDataSentMs = now;
      if (peer.unansweredSinceMs < 0) peer.unansweredSinceMs = now;
      peer.traffic.txPackets++;
    }
    peer.traffic.txBytes += state.ring.length[slot]!;
    state.transport.send(slot, peer.endpoint!);
  }

  /** Send what waited for a keypair; with nothing waiting, a keepalive confirms the keypair. */
  private flushStaged(peer: WgPeer): void {
    const kp = peer.current;
    if (kp === undefined) return;
    if (peer.stagedCount === 0 && kp.initiator) return this.keepalive(peer);
    for (let slot = peer.unstage(); slot >= 0; slot = peer.unstage()) this.sealAndSend(peer, kp, slot, true);
  }

  private keepalive(peer: WgPeer): void {
    const kp = this.usable(peer.current);
    if (kp === undefined || peer.endpoint === undefined) return;
    const slot = this.state.ring.acquire();
    if (slot < 0) return void this.state.drops.add(WgDrop.RingFull);
    this.state.handshakes.keepalivesSent++;
    this.sealAndSend(peer, kp, slot, false);
  }

  // ---- inbound -----------------------------------------------------------

  receive(slot: number, fromAddress: string, fromPort: number): Received {
    const ring = this.state.ring;
    const off = ring.offset[slot]!;
    const len = ring.length[slot]!;
    const type = messageType(ring.bytes, off, len);
    if (type === MessageType.Transport && len >= TRANSPORT_MIN_LEN) return this.receiveData(slot, off, fromAddress, fromPort);
    let ok: boolean;
    if (type === MessageType.Initiation && len === INIT_LEN) {
      const message = ring.bytes.slice(off, off + len);
      // MAC1 at once; the rest at once, or in a later turn while a burst is under way (handshake-queue.ts).
      const r = this.handshaker.checkMac1(message) ? this.queue.submit(message, fromAddress, fromPort) : Submitted.Failed;
      if (r === Submitted.Full) this.state.drops.add(WgDrop.HandshakeQueueFull);
      ok = r === Submitted.Done || r === Submitted.Queued;
    } else if (type === MessageType.Response && len === RESP_LEN) {
      ok = this.handshaker.onResponse(ring.bytes.slice(off, off + len), readU32LE(ring.bytes, off + 8), fromAddress, fromPort);
    } else if (type === MessageType.CookieReply && len === COOKIE_REPLY_LEN) {
      ok = this.handshaker.onCookieReply(ring.bytes.slice(off, off + len), readU32LE(ring.bytes, off + 4));
    } else {
      return this.dropped(slot, len < TRANSPORT_MIN_LEN && type === MessageType.Transport ? WgDrop.Short : WgDrop.BadType);
    }
    ring.release(slot);
    return ok ? Received.Consumed : Received.Dropped;
  }

  private receiveData(slot: number, off: number, fromAddress: string, fromPort: number): Received {
    const state = this.state;
    const ring = state.ring;
    const entry = state.indices.get(readU32LE(ring.bytes, off + TRANSPORT_RECEIVER));
    const kp = entry?.keypair;
    if (entry === undefined || kp === undefined) return this.dropped(slot, WgDrop.UnknownIndex);
    if (this.usable(kp) === undefined) return this.dropped(slot, WgDrop.KeypairExpired);
    const peer = entry.peer;
    const wireLen = ring.length[slot]!;
    const r = openTransport(ring, slot, kp, state.views);
    if (r === OpenResult.Replay) return this.dropped(slot, WgDrop.DataReplay);
    if (r === OpenResult.BadAuth) return this.dropped(slot, WgDrop.BadAuth);
    if (r === OpenResult.Short) return this.dropped(slot, WgDrop.Short);
    // Authenticated from here on.
    const now = state.coarse[0]!;
    peer.heardFrom(now);
    peer.traffic.rxBytes += wireLen;
    this.handshaker.roam(peer, fromAddress, fromPort);
    if (kp === peer.next) this.handshaker.confirm(peer);
    if (r === OpenResult.Keepalive) return this.dropped(slot, -1);
    if (r === OpenResult.BadIp) return this.dropped(slot, WgDrop.BadIp);
    const bytes = ring.bytes;
    const ip = ring.offset[slot]!;
    const allowed = bytes[ip]! >> 4 === 4 ? this.routes.matchesV4At(bytes, ip + IPV4_SRC_OFFSET, peer) : this.routes.matchesV6At(bytes, ip + IPV6_SRC_OFFSET, peer);
    if (!allowed) return this.dropped(slot, WgDrop.SpoofedSource);
    peer.lastDataReceivedMs = now;
    peer.traffic.rxPackets++;
    return Received.Deliver;
  }

  private drop(slot: number, reason: number): void {
    if (reason >= 0) this.state.drops.add(reason);
    this.state.ring.release(slot);
  }

  /** Release the slot; count `reason` unless it is -1 (a keepalive is consumed, not dropped). */
  private dropped(slot: number, reason: number): Received {
    this.drop(slot, reason);
    return reason < 0 ? Received.Consumed : Received.Dropped;
  }

  private dropStaged(peer: WgPeer, reason: number): void {
    for (let slot = peer.unstage(); slot >= 0; slot = peer.unstage()) this.drop(slot, reason);
  }

  // ---- timers ------------------------------------------------------------

  /** One pass over every peer; public so tests can drive time by hand. */
  tick(): void {
    const state = this.state;
    const now = state.now();
    state.coarse[0] = now;
    this.handshaker.newTick();
    let eager = 0;
    for (const peer of this.byName.values()) {
      const due = dueActions(peer, now, state.scale);
      // Past REJECT_AFTER_TIME usable() already refuses a keypair; at three times that its keys are zeroed.
      if (due.wipeKeys) clearSessions(state, peer);
      if (due.giveUp) {
        peer.handshakeInFlight = false;
        if (peer.handshake !== undefined) {
          state.indices.delete(peer.handshake.localIndex);
          peer.handshake.wipe();
          peer.handshake = undefined;
        }
        this.dropStaged(peer, WgDrop.HandshakeTimeout);
      } else if (due.initiate && peer.endpoint !== undefined) {
        // Handshakes nobody's traffic waits for yet are spread over ticks.
        const eagerOnly = peer.handshakeWanted && !peer.handshakeInFlight && !peer.hasStaged;
        if (!eagerOnly || eager++ < EAGER_HANDSHAKES_PER_TICK) this.handshaker.initiate(peer);
      }
      if (due.keepalive) this.keepalive(peer);
    }
  }

  // ---- peers -------------------------------------------------------------

  addPeer(spec: PeerSpec): void {
    if (this.byName.has(spec.name)) throw new WeftError('PEER_EXISTS', `peer "${spec.name}" is already configured; update it instead`);
    const key = this.requireKey(spec);
    if (this.state.byKey.has(keyHex(key))) throw new WeftError('CONFIG_INVALID', `peer "${spec.name}": its public key already belongs to another peer`);
    const peer = new WgPeer(spec.name, key, this.identityFor(spec, key), spec.endpoint, spec.subnets, spec.persistentKeepalive ?? 0);
    peer.handshakeWanted = spec.endpoint !== undefined && (peer.persistentKeepaliveMs > 0 || this.inStartup());
    this.byName.set(spec.name, peer);
    this.state.byKey.set(keyHex(key), peer);
    for (const cidr of spec.subnets) this.routes.insert(cidr, peer);
  }

  updatePeer(spec: PeerSpec): void {
    const peer = this.byName.get(spec.name);
    if (peer === undefined) throw new WeftError('PEER_UNKNOWN', `peer "${spec.name}" is not configured; add it first`);
    const key = this.requireKey(spec);
    if (keyHex(key) !== keyHex(peer.publicKey)) {
      // A new key is a new peer: its sessions mean nothing any more.
      this.removePeer(spec.name);
      this.addPeer(spec);
      return;
    }
    const psk = spec.presharedKey ?? new Uint8Array(32);
    if (keyHex(psk) !== keyHex(peer.identity.presharedKey)) peer.identity = this.identityFor(spec, key);
    peer.endpoint = spec.endpoint;
    peer.allowedIps = spec.subnets;
    peer.persistentKeepaliveMs = (spec.persistentKeepalive ?? 0) * 1000;
    this.routes.removeValue(peer);
    for (const cidr of spec.subnets) this.routes.insert(cidr, peer);
  }

  removePeer(name: string): boolean {
    const peer = this.byName.get(name);
    if (peer === undefined) return false;
    this.routes.removeValue(peer);
    this.dropStaged(peer, WgDrop.NoRoute);
    clearSessions(this.state, peer);
    this.byName.delete(name);
    this.state.byKey.delete(keyHex(peer.publicKey));
    return true;
  }

  /** Before start() or within STARTUP_HANDSHAKE_WINDOW of it. */
  private inStartup(): boolean {
    return this.startedAtMs < 0 || this.state.now() - this.startedAtMs < STARTUP_HANDSHAKE_WINDOW * this.state.scale;
  }

  peers(): WgPeerStatus[] {
    return [...this.byName.values()].map((p) => ({
      name: p.name,
      endpoint: p.endpoint,
      subnets: p.allowedIps,
      traffic: { ...p.traffic },
      publicKey: p.publicKey,
      lastHandshakeWallMs: p.lastHandshakeWallMs,
      persistentKeepalive: p.persistentKeepaliveMs / 1000,
      presharedKey: p.identity.presharedKey.some((b) => b !== 0) ? p.identity.presharedKey : undefined,
    }));
  }

  peer(name: string): WgPeer | undefined {
    return this.byName.get(name);
  }

  drops(): Record<string, number> {
    return this.state.drops.toObject();
  }

  private requireKey(spec: PeerSpec): Uint8Array {
    if (spec.publicKey === undefined || spec.publicKey.length !== 32) {
      throw new WeftError('CONFIG_INVALID', `peer "${spec.name}": publicKey must be a 32-byte WireGuard public key (base64, as wg pubkey prints)`);
    }
    return spec.publicKey;
  }

  private identityFor(spec: PeerSpec, key: Uint8Array): HandshakePeer {
    return new HandshakePeer(this.state.local, key, spec.presharedKey);
  }
}
