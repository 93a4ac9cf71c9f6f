/**
 * The WireGuard encapsulation: the protocol as specified (whitepaper,
 * protocol page), speaking to wireguard-go and the kernel module.
 *
 * Outbound: the data plane's route table has picked the peer by its
 * allowed IPs (cryptokey routing); the packet is sealed in place with the
 * current keypair, or staged while a handshake runs. Inbound: the message
 * type picks the path; transport data is found by its receiver index and
 * opened in place, and its keypair names the sender, whose allowed IPs the
 * data plane then checks the inner source against. Every authenticated
 * message moves the peer's endpoint to its source (roaming). One coarse
 * tick drives every timer.
 */
import { performance } from 'node:perf_hooks';
import { CsumState } from '../buf/packet-ring.ts';
import type { PacketRing } from '../buf/packet-ring.ts';
import { readU32LE } from '../bytes/endian.ts';
import { AeadViews } from '../crypto/aead.ts';
import { ReasonCounters } from '../dataplane/counters.ts';
import { Received } from '../dataplane/encapsulation.ts';
import type { Encapsulation, PeerDirectory } from '../dataplane/encapsulation.ts';
import type { PeerSpec } from '../dataplane/peer.ts';
import { keyHex } from '../dataplane/peer-table.ts';
import { WeftError } from '../errors.ts';
import { finishPartialChecksum } from '../offload/partial-checksum.ts';
import type { Transport } from '../transport/transport.ts';
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
import { WG_DROP_NAMES, WgDrop, clearSessions } from './wg-state.ts';
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

export class WireguardEncapsulation implements Encapsulation {
  readonly kind = 'wireguard';
  readonly overhead = WIREGUARD_OVERHEAD_IPV4;
  /** Poly1305 covers every byte of the inner packet. */
  readonly authenticatesPayload = true;
  readonly sendersByAddress = false;
  /** Cryptokey routing: a peer may send only from its allowed IPs, always. */
  readonly sourceCheck = true;
  readonly transport: Transport;
  readonly state: WgState;
  readonly handshaker: Handshaker;
  sender: WgPeer | undefined = undefined;
  private directory: PeerDirectory | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Initiations waiting while under load. */
  private readonly queue: InitiationQueue;
  /** When start() ran (monotonic ms); -1 before. */
  private startedAtMs = -1;

  constructor(options: WireguardOptions) {
    const handshakes: HandshakeStats = { initiationsSent: 0, initiationsReceived: 0, initiationsProcessed: 0, responsesSent: 0, completed: 0, cookieRepliesSent: 0, keepalivesSent: 0 };
    this.transport = options.transport;
    this.state = {
      ring: options.ring,
      transport: options.transport,
      local: new LocalIdentity(options.privateKey),
      indices: new IndexTable<IndexEntry>(),
      peers: new Set(),
      peerByKey: (hex) => {
        const peer = this.directory?.byKey(hex);
        // Under "mixed" a peer in our location has a key too, but VXLAN reaches it.
        return peer instanceof WgPeer ? peer : undefined;
      },
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

  bind(directory: PeerDirectory): void {
    this.directory = directory;
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
    for (const peer of this.state.peers) {
      this.dropStaged(peer, WgDrop.HandshakeTimeout);
      clearSessions(this.state, peer);
    }
  }

  // ---- outbound ----------------------------------------------------------

  /** Seal the (checked) IP packet toward `peer` and send it, or stage it while a handshake runs. Takes the slot. */
  encapsulate(slot: number, peer: WgPeer): void {
    // Only a weft peer that said so takes a TCP checksum left partial; wireguard-go and the kernel deliver what they decrypt as it is.
    if (!peer.finishesChecksums) finishPartialChecksum(this.state.ring, slot);
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

  decapsulate(slot: number, fromAddress: string, fromPort: number): Received {
    const ring = this.state.ring;
    this.sender = undefined;
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
    // The data plane checks the inner source against this peer's allowed IPs next.
    peer.lastDataReceivedMs = now;
    this.sender = peer;
    // The tag vouched for every byte: its TCP checksum needs no verifying (src/offload/gro.ts).
    state.ring.csum[slot] = CsumState.Authenticated;
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
    for (const peer of this.state.peers) {
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

  createPeer(spec: PeerSpec): WgPeer {
    const key = this.requireKey(spec);
    const peer = new WgPeer(spec, key, this.identityFor(spec, key), this);
    peer.handshakeWanted = spec.endpoint !== undefined && (peer.persistentKeepaliveMs > 0 || this.inStartup());
    this.state.peers.add(peer);
    return peer;
  }

  /** The table hands back only peers this encapsulation made. A new key is a new peer: its sessions mean nothing any more. */
  updatePeer(peer: WgPeer, spec: PeerSpec): WgPeer {
    const key = this.requireKey(spec);
    if (keyHex(key) !== keyHex(peer.publicKey)) {
      const fresh = this.createPeer(spec);
      this.removePeer(peer);
      return fresh;
    }
    const psk = spec.presharedKey ?? new Uint8Array(32);
    if (keyHex(psk) !== keyHex(peer.identity.presharedKey)) peer.identity = this.identityFor(spec, key);
    peer.endpoint = spec.endpoint;
    peer.subnets = spec.subnets;
    peer.persistentKeepaliveMs = (spec.persistentKeepalive ?? 0) * 1000;
    peer.finishesChecksums = spec.finishesChecksums ?? false;
    return peer;
  }

  removePeer(peer: WgPeer): void {
    this.dropStaged(peer, WgDrop.NoRoute);
    clearSessions(this.state, peer);
    this.state.peers.delete(peer);
  }

  /** Before start() or within STARTUP_HANDSHAKE_WINDOW of it. */
  private inStartup(): boolean {
    return this.startedAtMs < 0 || this.state.now() - this.startedAtMs < STARTUP_HANDSHAKE_WINDOW * this.state.scale;
  }

  /** One of its peers by name (tests, tools; cold path). */
  peer(name: string): WgPeer | undefined {
    for (const p of this.state.peers) if (p.name === name) return p;
    return undefined;
  }

  /** Its own drops by reason (the data plane's are in Dataplane.drops). */
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
