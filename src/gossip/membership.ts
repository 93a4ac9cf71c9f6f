/**
 * SWIM membership with the Lifeguard refinements (Das, Gupta, Motivala,
 * "SWIM", DSN 2002; Dadgar, Phillips, Currey, "Lifeguard", 2018).
 *
 * Every probe interval a node pings the next member of a shuffled round-robin
 * list (so every member is probed within a bounded time); with no ack by the
 * probe timeout it asks k others to ping it for us (ping-req) and pings it
 * directly once more; with no ack by the end of the interval it suspects it.
 * A suspicion becomes a death after a timeout that shrinks as independent
 * members confirm it (suspicion.ts), unless the suspect refutes it first by
 * re-signing its record with a higher incarnation. Facts (alive / suspect /
 * dead) spread by piggybacking on probes and on short gossip rounds
 * (broadcast-queue.ts); anti-entropy (anti-entropy.ts) repairs the rest.
 *
 * The core is pure: time comes from the injected Clock's now() and one tick,
 * randomness from an injected generator, datagrams through GossipTransport.
 * Wire input never throws: every drop is counted by reason in `drops`.
 * Datagrams are sealed, opened and admitted in wire.ts; what they say is
 * handled here, and what facts do to members in member-states.ts.
 */
import { ReasonCounters } from '../dataplane/counters.ts';
import { Admission } from './admission.ts';
import { peerOf } from './events.ts';
import type { GossipPeer, MemberEvent } from './events.ts';
import { AntiEntropy, nameHash } from './anti-entropy.ts';
import type { SyncHost } from './anti-entropy.ts';
import { Awareness, lagPenalty } from './awareness.ts';
import { BroadcastQueue, retransmitLimit } from './broadcast-queue.ts';
import type { TickHandle } from './clock.ts';
import { FactKind, MsgType, encodeFact, factBudget } from './codec.ts';
import type { ClaimKind } from './codec.ts';
import { signClaim, verifyClaim } from './claim.ts';
import { ClaimTrust } from './claim-trust.ts';
import { RecordFlag, decodeRecord, signRecord, verifyRecord } from './record.ts';
import type { NodeRecord, RecordFields } from './record.ts';
import { Joiner } from './join.ts';
import { Prober } from './prober.ts';
import type { ProberHost } from './prober.ts';
import { DEFAULT_CONFIG, DROP_REASONS, Member, MemberState } from './member.ts';
import type { DropReason, MembershipConfig, MembershipOptions } from './member.ts';
import { MemberStates } from './member-states.ts';
import { encodeForget } from './forget.ts';
import { MembershipWire } from './wire.ts';
import type { MemberTable, SharedMembers } from './member-table.ts';

export { DEFAULT_CONFIG, DROP_REASONS, MemberState } from './member.ts';
export type { DropReason, MembershipConfig, MembershipOptions } from './member.ts';

export { peerOf } from './events.ts';
export type { GossipPeer, MemberEvent } from './events.ts';

export class Membership {
  readonly cfg: MembershipConfig;
  readonly drops = new ReasonCounters<DropReason>(DROP_REASONS);
  readonly stats = {
    sent: 0, sentBytes: 0, received: 0, receivedBytes: 0, suspicions: 0, refutations: 0, declaredDead: 0,
  };
  readonly awareness: Awareness;
  readonly antiEntropy: AntiEntropy;
  readonly prober: Prober;
  readonly admission: Admission;
  private readonly queue = new BroadcastQueue();
  /** Sealing, opening and admitting datagrams (wire.ts). */
  private readonly wire: MembershipWire;
  /** Every member's state as facts arrive (member-states.ts). */
  private readonly states: MemberStates;
  private readonly table: MemberTable;
  private readonly random: () => number;
  private readonly me: Member;
  private fields: RecordFields;
  private readonly budget: number;
  private ticker: TickHandle | null = null;
  private lastTick = 0;
  private nextGossipAt = 0;
  private nextSyncAt = 0;
  private nextReapAt = 0;
  private leaving = false;
  /** Announcements to the seeds, the pulls after them, and repeats until a seed answers (join.ts). */
  private readonly joiner: Joiner;

  constructor(private readonly opts: MembershipOptions) {
    this.cfg = { ...DEFAULT_CONFIG, ...opts.config };
    this.random = opts.random ?? Math.random;
    this.awareness = new Awareness(this.cfg.awarenessMax);
    this.fields = opts.self;
    const bytes = signRecord(opts.self, opts.incarnation ?? 0, opts.secretKey);
    const v = decodeRecord(bytes);
    if (!v.ok) throw new RangeError('own record does not decode');
    this.me = new Member(v.record, bytes, nameHash(v.record.name), 0);
    this.states = new MemberStates({
      cfg: this.cfg,
      drops: this.drops,
      stats: this.stats,
      queue: this.queue,
      now: () => opts.clock.now(),
      decode: opts.decode ?? decodeRecord,
      verify: opts.verify ?? verifyRecord,
      verifyClaim: opts.verifyClaim ?? verifyClaim,
      leaving: () => this.leaving,
      refute: (incarnation) => this.refute(incarnation),
      becameLive: (m) => this.prober.add(m),
      wall: () => this.wall(),
    }, this.me, new ClaimTrust(opts.claimTrust));
    this.table = this.states.table;
    this.budget = factBudget(this.me.name, 'x'.repeat(63));
    this.antiEntropy = new AntiEntropy(this.syncHost());
    this.prober = new Prober(this.proberHost(), this.cfg, this.awareness);
    this.admission = new Admission({
      selfHash: this.me.hash,
      now: () => opts.clock.now(),
      wall: () => this.wall(),
      verified: (address, port, name) => this.verified(address, port, name),
    }, opts.admission);
    this.wire = new MembershipWire({
      keyring: opts.keyring,
      transport: opts.transport,
      admission: this.admission,
      stats: this.stats,
      drop: (reason) => this.drop(reason),
      wall: () => this.wall(),
    });
    this.joiner = new Joiner({
      announce: (seed) => {
        const alive = encodeFact({ kind: FactKind.Alive, record: this.me.bytes });
        this.wire.send(seed.address, seed.port, { type: MsgType.Gossip, from: this.me.name, facts: [alive] }, null);
      },
      pull: (seed) => this.antiEntropy.start(seed.address, seed.port, null),
      liveCount: () => this.states.live,
      knownLive: (seed) => {
        const m = this.table.atEndpoint(seed.address, seed.port);
        return m !== undefined && m !== this.me && m.isLive;
      },
    });
    opts.transport.onMessage((b, a, p) => this.receive(b, a, p));
  }

  get name(): string {
    return this.me.name;
  }
  get incarnation(): number {
    return this.me.incarnation;
  }
  get record(): NodeRecord {
    return this.me.record;
  }
  /** Members alive or suspected, this node included (the N of the log N formulas). */
  get liveCount(): number {
    return this.states.live;
  }

  on(listener: (e: MemberEvent) => void): void {
    this.states.on(listener);
  }

  start(): void {
    const now = this.opts.clock.now();
    this.lastTick = now;
    // Random phases, so that nodes started together do not probe and gossip in lockstep.
    this.prober.start(now);
    this.nextGossipAt = now + this.random() * this.cfg.gossipIntervalMs;
    this.nextSyncAt = now + this.random() * this.cfg.syncIntervalMs;
    this.nextReapAt = now + this.cfg.tombstoneMs / 4;
    this.ticker = this.opts.clock.every(this.cfg.tickMs, () => this.tick());
  }

  stop(): void {
    this.ticker?.cancel();
    this.ticker = null;
    this.opts.transport.onMessage(() => {});
  }

  /** Announce ourselves to the seeds and pull the whole map from them (join.ts). */
  join(seeds: readonly { address: string; port: number }[]): void {
    this.joiner.join(seeds);
  }

  /**
   * Load signed records known from elsewhere (a saved map, a test's bootstrap): each is checked like
   * any record pulled by anti-entropy, and none is re-gossiped.
   */
  restore(records: readonly Uint8Array[]): void {
    for (const r of records) this.states.alive(r, true);
  }

  /**
   * Start from members already checked and shared with other memberships of this process (the
   * simulator's preloaded map; member-table.ts): read in place, copied here on the first change.
   * Call before start(), on a fresh membership.
   */
  adopt(shared: SharedMembers): void {
    this.states.adopt(shared);
  }

  /** Leave gracefully: a signed record marked left, told to several members at once, then gossiped. */
  leave(): void {
    this.leaving = true;
    this.resign({ ...this.fields, flags: this.fields.flags | RecordFlag.Left }, this.me.incarnation + 1);
    const targets = this.prober.randomLive(2 * this.cfg.gossipFanout);
    const fact = encodeFact({ kind: FactKind.Alive, record: this.me.bytes });
    for (const t of targets) this.wire.send(t.record.address, t.record.gossipPort, { type: MsgType.Gossip, from: this.me.name, facts: [fact] }, t.name);
  }

  /** Change our own record (a new subnet, a new address): one incarnation higher, re-signed, gossiped. */
  updateSelf(patch: Partial<RecordFields>): void {
    this.resign({ ...this.fields, ...patch }, this.me.incarnation + 1);
  }

  get(name: string): Member | undefined {
    return this.table.get(name);
  }

  /**
   * End a dead or departed member's tombstone now (`weft forget`), so that its name may come back
   * under a new key, and tell the cluster with a forget fact signed by us (forget.ts). Refused for
   * a member alive or suspected here, ourselves, or a name we hold nothing of.
   */
  forget(name: string): 'forgotten' | 'unknown' | 'self' | 'alive' | 'suspect' | 'full' {
    return this.states.forgetMember(name, (r) => encodeForget({
      name, key: r.signingKey, incarnation: r.incarnation, issuedAt: this.wall(), from: this.me.name,
    }, this.opts.secretKey));
  }

  /** Every known member including tombstones and this node (a snapshot array; cold path). */
  all(): Member[] {
    return [...this.table.values()];
  }

  /** The data plane's view: live peers other than this node. */
  peers(): GossipPeer[] {
    const out: GossipPeer[] = [];
    for (const m of this.table.values()) if (m !== this.me && m.isLive) out.push(peerOf(m.record));
    return out;
  }

  // ---------------------------------------------------------------- receive

  receive(bytes: Uint8Array, address: string, port: number): void {
    const msg = this.wire.open(bytes, address, port);
    if (msg === null) return;
    // Facts first: a probe's piggybacked news is as good as a gossip message's.
    if ('facts' in msg) this.states.facts(msg.facts, msg.type === MsgType.SyncRecords, msg.from);
    switch (msg.type) {
      case MsgType.Ping:
        if (msg.target !== this.me.name) this.drop('wrong-target');
        else {
          // Piggybacked news is for members; an unverified pinger gets a bare ack, within its budget.
          const facts = this.verified(address, port, msg.from) ? this.take() : [];
          this.wire.send(address, port, { type: MsgType.Ack, from: this.me.name, seq: msg.seq, facts }, msg.from, true);
        }
        return;
      case MsgType.PingReq:
        return this.prober.onPingReq(msg.target, msg.seq, address, port, msg.from);
      case MsgType.Ack:
        return this.prober.onAck(msg.seq);
      case MsgType.Nack:
        return this.prober.onNack(msg.seq);
      case MsgType.SyncDigest:
        return this.antiEntropy.onDigest(msg, address, port);
      case MsgType.SyncEntries:
        return this.antiEntropy.onEntries(msg, address, port);
      case MsgType.SyncWant:
        if (!this.antiEntropy.onWant(msg, address, port)) this.drop('sync-busy');
        return;
      default:
        return; // gossip and sync-records: facts only
    }
  }

  private drop(reason: DropReason): void {
    this.drops.add(DROP_REASONS.indexOf(reason));
  }

  private refute(claimed: number): void {
    this.stats.refutations++;
    // Being suspected means others could not hear us: a hint that we may be the slow one.
    this.awareness.apply(1);
    this.resign(this.fields, Math.max(this.me.incarnation, claimed) + 1);
  }

  private resign(fields: RecordFields, incarnation: number): void {
    this.fields = fields;
    const bytes = signRecord(fields, incarnation, this.opts.secretKey);
    const v = decodeRecord(bytes);
    if (!v.ok) throw new RangeError('own record does not decode');
    this.me.record = v.record;
    this.me.bytes = bytes;
    this.table.change(this.me, incarnation, this.me.state);
    this.queue.push(this.me.name, encodeFact({ kind: FactKind.Alive, record: bytes }));
  }

  private tick(): void {
    const now = this.opts.clock.now();
    const lag = now - this.lastTick - this.cfg.tickMs;
    this.lastTick = now;
    if (lag > this.cfg.lagThresholdMs) {
      // We were stalled: replies may be sitting unread in our socket. Doubt ourselves, push our own
      // deadlines out by the stall, and skip this tick so those replies are read before anyone is accused.
      this.awareness.apply(lagPenalty(lag, this.cfg.lagThresholdMs, this.cfg.probeIntervalMs));
      this.prober.stall(lag);
      for (const m of this.states.suspects) m.suspicion?.extend(lag);
      return;
    }
    this.joiner.tick();
    this.prober.tick(now, !this.leaving);
    for (const m of this.states.suspects) {
      if (m.suspicion !== null && now >= m.suspicion.deadline) {
        this.states.declareDead(m, this.signClaim(FactKind.Dead, m));
      }
    }
    if (now >= this.nextGossipAt) {
      this.nextGossipAt = now + this.cfg.gossipIntervalMs;
      this.gossipRound(now);
    }
    if (now >= this.nextSyncAt) {
      this.nextSyncAt = now + this.cfg.syncIntervalMs;
      const dead = this.table.dead();
      // Now and then sync with a member we think dead: that is how a healed partition finds itself.
      const pick = dead.length > 0 && this.random() < this.cfg.syncDeadChance
        ? dead[Math.floor(this.random() * dead.length)]
        : this.prober.randomLive(1)[0];
      if (pick !== undefined) this.antiEntropy.start(pick.record.address, pick.record.gossipPort, pick.name);
      if (!this.leaving) this.joiner.syncRound();
    }
    if (now >= this.nextReapAt) {
      this.nextReapAt = now + this.cfg.tombstoneMs / 4;
      this.table.reap(now, this.cfg.tombstoneMs);
    }
  }

  private gossipRound(now: number): void {
    if (this.queue.size === 0) return;
    const targets = this.prober.randomLive(this.cfg.gossipFanout);
    // Also tell the recently dead: a node wrongly declared dead hears it and refutes.
    for (const m of this.table.tombstones) {
      if (m.state === MemberState.Dead && now - m.since < this.cfg.gossipToDeadMs && this.random() < 0.5) {
        targets.push(m);
        break;
      }
    }
    for (const t of targets) {
      const facts = this.take();
      if (facts.length === 0) return;
      this.wire.send(t.record.address, t.record.gossipPort, { type: MsgType.Gossip, from: this.me.name, facts }, t.name);
    }
  }

  // ------------------------------------------------------------------ output

  private take(): Uint8Array[] {
    return this.queue.take(this.budget, retransmitLimit(this.cfg.retransmitMult, this.states.live));
  }

  /** Our claim about `m` at the incarnation we hold, signed with our key (claim.ts). */
  private signClaim(kind: ClaimKind, m: Member): Uint8Array {
    return signClaim(kind, m.name, m.incarnation, this.me.name, this.opts.secretKey);
  }

  private wall(): number {
    return this.opts.clock.wall?.() ?? Date.now();
  }

  /** A source is verified when the member it names (not ourselves), whose record we hold, has that gossip address. */
  private verified(address: string, port: number, name: string | null): boolean {
    if (name === null) return false;
    const m = this.table.get(name);
    if (m === undefined || m === this.me || m.record.gossipPort !== port) return false;
    return m.record.address === address || m.record.address6 === address;
  }

  private proberHost(): ProberHost {
    return {
      selfName: this.me.name,
      now: () => this.opts.clock.now(),
      random: this.random,
      lookup: (name) => this.table.get(name),
      send: (a, p, msg, to, reply) => this.wire.send(a, p, msg, to, reply),
      take: () => this.take(),
      failed: (t, since) => {
        const bytes = this.signClaim(FactKind.Suspect, t);
        // Lifeguard's buddy system: tell the suspect itself at once, so that it can refute before the news spreads.
        if (this.states.probeFailed(t, bytes, since)) {
          this.wire.send(t.record.address, t.record.gossipPort, { type: MsgType.Gossip, from: this.me.name, facts: [bytes] }, t.name);
        }
      },
    };
  }

  private syncHost(): SyncHost {
    return {
      selfName: this.me.name,
      syncMembers: () => this.table.values(),
      digest: () => ({ count: this.table.size, buckets: this.table.digest }),
      byHash: (h) => this.table.byHash(h),
      factsFor: (h) => this.states.factsFor(h, (m) => this.signClaim(FactKind.Dead, m)),
      send: (a, p, msg, to, reply) => this.wire.send(a, p, msg, to, reply),
      now: () => this.opts.clock.now(),
    };
  }
}
