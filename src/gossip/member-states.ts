/**
 * What facts do to members: this node's view of every other, as signed
 * records (alive, changed, left) and claims about them (suspect, dead)
 * arrive, and the state changes and peer events those cause. Membership
 * owns the wire and the timers and feeds this decoded facts; this owns the
 * member table, the suspects and the count of live members.
 *
 * A record is believed only when it is newer than the one held and its
 * signature holds, under the key the name was first seen with. A claim is
 * believed only about the incarnation whose record we hold (one above it
 * names a record nobody showed us), and only when it is accountable: signed
 * by its claimer, a member we hold, trusted and within its rate (claim.ts,
 * claim-trust.ts). The cheap checks go first, so a claim that would change
 * nothing (a repeat, a member already dead) costs no signature check.
 * Claims about this node are the host's to refute; refuted claims count
 * against their claimers.
 */
import type { ReasonCounters } from '../dataplane/counters.ts';
import { nameHash } from './anti-entropy.ts';
import type { BroadcastQueue } from './broadcast-queue.ts';
import { claimSigned } from './claim.ts';
import { ClaimTrust } from './claim-trust.ts';
import { CLAIM_SIG_LEN, FactKind, decodeFact, encodeFact } from './codec.ts';
import { FORGET_SKEW_MS, ForgetLedger, decodeForget, verifyForget } from './forget.ts';
import type { Fact } from './codec.ts';
import { dataChanged, peerOf } from './events.ts';
import type { MemberEvent } from './events.ts';
import { DROP_REASONS, Member, MemberState } from './member.ts';
import type { DropReason, MembershipConfig } from './member.ts';
import { MemberTable } from './member-table.ts';
import type { SharedMembers } from './member-table.ts';
import { RecordFlag, bytesEqual } from './record.ts';
import type { NodeRecord, RecordVerdict } from './record.ts';
import { Suspicion, confirmationsWanted, suspicionMin } from './suspicion.ts';

/** A claim about one member: suspect or dead, at an incarnation, by a member. */
export type Claim = Extract<Fact, { signature: Uint8Array }>;

export interface MemberStatesHost {
  readonly cfg: MembershipConfig;
  readonly drops: ReasonCounters<DropReason>;
  readonly stats: { suspicions: number; declaredDead: number };
  /** News to spread: the facts that changed our view. */
  readonly queue: BroadcastQueue;
  now(): number;
  decode(bytes: Uint8Array): RecordVerdict;
  verify(body: Uint8Array, signature: Uint8Array, key: Uint8Array): boolean;
  /** A claim's signature check (claim.ts verifyClaim, or the simulator's memo of it). */
  verifyClaim(body: Uint8Array, signature: Uint8Array, key: Uint8Array): boolean;
  /** True while this node leaves: it no longer refutes. */
  leaving(): boolean;
  /** Someone said something about us at `incarnation`: say something newer. */
  refute(incarnation: number): void;
  /** A member became live (the prober adds it to its round). */
  becameLive(m: Member): void;
  /** Wall clock, ms since the epoch (forget facts are dated with it); Date.now() when absent. */
  wall?(): number;
}

/** The broadcast queue's key for a forget: apart from the name's own facts, so its new record does not displace it. */
export function forgetQueueKey(name: string): string {
  return `forget\0${name}`;
}

export class MemberStates {
  readonly table = new MemberTable();
  /** Members under suspicion, for the timers that expire or extend it. */
  readonly suspects = new Set<Member>();
  /** Tombstones forgotten at an operator's word, in force for the tombstone time (forget.ts). */
  readonly forgets = new ForgetLedger();
  /** Claimers' rates and refuted claims (claim-trust.ts). */
  readonly trust: ClaimTrust;
  private readonly listeners: ((e: MemberEvent) => void)[] = [];
  /** Members alive or suspected, this node included. */
  private liveMembers = 1;

  constructor(
    private readonly host: MemberStatesHost,
    /** This node, alive from the start. */
    readonly me: Member,
    trust = new ClaimTrust(),
  ) {
    this.trust = trust;
    me.state = MemberState.Alive;
    this.table.add(me);
  }

  get live(): number {
    return this.liveMembers;
  }

  /** Start from members shared with other tables (member-table.ts): live ones join the probe round. */
  adopt(shared: SharedMembers): void {
    this.table.share(shared);
    this.liveMembers = 0;
    for (const m of this.table.values()) {
      if (!m.isLive) continue;
      this.liveMembers++;
      if (m !== this.me) this.host.becameLive(m);
    }
  }

  /** `m` as this table may write it: a shared member is copied into the table first. */
  private own(m: Member): Member {
    if (!m.shared) return m;
    const c = m.copy();
    this.table.adoptCopy(c);
    return c;
  }

  on(listener: (e: MemberEvent) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Apply a list of encoded facts that the member named `sender` sent us; a pull's records
   * (`viaSync`) are not news to re-gossip.
   */
  facts(list: Uint8Array[], viaSync: boolean, sender = ''): void {
    for (const b of list) {
      if (b[0] === FactKind.Forget) {
        this.forgetFact(b);
        continue;
      }
      const v = decodeFact(b);
      if (!v.ok) this.drop('bad-fact');
      else if (v.fact.kind === FactKind.Alive) this.alive(v.fact.record, viaSync);
      else if (v.fact.kind === FactKind.Suspect || v.fact.kind === FactKind.Dead) this.claim(v.fact, b, undefined, sender);
      else this.drop('unsigned-claim');
    }
  }

  /** A signed record: a member added, changed or left (or our own former self, to refute). */
  alive(bytes: Uint8Array, viaSync: boolean): void {
    const host = this.host;
    const v = host.decode(bytes);
    if (!v.ok) return this.drop('bad-record');
    const r = v.record;
    const m = this.table.get(r.name);
    if (m !== this.me && this.forgets.blocks(r.name, r.signingKey, r.incarnation, host.now())) {
      // Whoever still offers a forgotten record has not heard the forget: say it again.
      const again = this.forgets.factFor(r.name, host.now());
      if (again !== undefined) host.queue.push(forgetQueueKey(r.name), again);
      return this.drop('forgotten');
    }
    if (m !== undefined && !bytesEqual(m.record.signingKey, r.signingKey)) return this.drop('key-mismatch');
    if (m !== undefined && r.incarnation <= m.incarnation) {
      if (r.incarnation < m.incarnation) this.drop('stale');
      return;
    }
    if (!host.verify(v.body, v.signature, r.signingKey)) return this.drop('bad-signature');
    // Keep a record of our own, not a view that would pin the whole received datagram.
    if (bytes.byteLength !== bytes.buffer.byteLength) bytes = bytes.slice();
    if (m === this.me) {
      // Our own key, a higher incarnation than ours: what we said before a restart. Say something newer.
      if (!host.leaving()) host.refute(r.incarnation);
      return;
    }
    const state = (r.flags & RecordFlag.Left) !== 0 ? MemberState.Left : MemberState.Alive;
    if (m === undefined) {
      const n = new Member(r, bytes, nameHash(r.name), host.now());
      this.table.add(n);
      this.setState(n, state);
      if (state === MemberState.Alive) this.emit('peer-added', n);
      // A record first learned by a pull is not news to the cluster (a joiner pulls 1000 of them).
      if (!viaSync) host.queue.push(n.name, encodeFact({ kind: FactKind.Alive, record: bytes }));
      return;
    }
    if (state === MemberState.Alive) this.refuted(m);
    const w = this.own(m);
    const wasLive = w.isLive;
    const before = w.record;
    w.record = r;
    w.bytes = bytes;
    this.setState(w, state, r.incarnation);
    if (!wasLive && w.isLive) this.emit('peer-added', w);
    else if (wasLive && !w.isLive) this.emit('peer-removed', w, 'left');
    else if (w.isLive && dataChanged(before, r)) this.emit('peer-changed', w);
    host.queue.push(w.name, encodeFact({ kind: FactKind.Alive, record: bytes }));
  }

  /**
   * A suspect or dead claim by some member about some node, as received from `sender`, or ours
   * (`mine`: signed here after a probe that first failed at `startedAt`, prober.ts; the suspicion
   * runs from then).
   */
  claim(f: Claim, bytes: Uint8Array, mine?: { startedAt: number }, sender = ''): void {
    const host = this.host;
    // A claim is about a record: one above the signed incarnation we hold names a record nobody
    // showed us, and believing it would let one member push a node's incarnation to 2^32 - 1.
    // (A restarted node learns of its former self from its signed record, in alive().)
    if (f.name === this.me.name) {
      // We refute a claimer we distrust too once another member passes its claim on (someone
      // believed it); from the claimer itself it goes unanswered, or a liar could make us refute at will.
      if (f.incarnation > this.me.incarnation) this.drop('ahead');
      else if (!host.leaving() && f.incarnation === this.me.incarnation && this.accountable(f, bytes, sender !== f.from)) host.refute(f.incarnation);
      return;
    }
    const held = this.table.get(f.name);
    if (held === undefined) return this.drop('unknown-member');
    if (f.incarnation < held.incarnation) return this.drop('stale');
    if (f.incarnation > held.record.incarnation) return this.drop('ahead');
    if (!held.isLive) return;
    if (held.state === MemberState.Suspect && held.suspicion !== null && f.kind === FactKind.Suspect) {
      // Lifeguard: a new independent confirmation shortens the timeout; pass it on so others shorten theirs.
      if (f.incarnation !== held.incarnation || held.suspicion.settled(f.from)) return;
      if (mine === undefined && !this.accountable(f, bytes)) return;
      if (held.suspicion.confirm(f.from)) host.queue.push(held.name, bytes);
      return;
    }
    if (mine === undefined && !this.accountable(f, bytes)) return;
    if (f.kind === FactKind.Dead) {
      this.declareDead(this.own(held), bytes, f.incarnation);
      return;
    }
    const m = this.own(held);
    this.setState(m, MemberState.Suspect, f.incarnation);
    const cfg = host.cfg;
    const min = suspicionMin(cfg.suspicionMult, this.liveMembers, cfg.probeIntervalMs);
    const k = confirmationsWanted(cfg.indirectChecks, this.liveMembers);
    m.suspicion = new Suspicion(mine?.startedAt ?? host.now(), k, min, min * cfg.suspicionMaxMult, f.from);
    this.suspects.add(m);
    host.stats.suspicions++;
    host.queue.push(m.name, bytes);
  }

  /**
   * Our probe of `t` failed, first at `since` (prober.ts), and `bytes` is our signed suspect claim:
   * suspect it, or if already suspected, confirm (our failed probe is independent evidence). True
   * when the suspicion is new here (the suspect is then told at once).
   */
  probeFailed(t: Member, bytes: Uint8Array, since: number): boolean {
    const fresh = t.suspicion === null;
    const f = { kind: FactKind.Suspect, name: t.name, incarnation: t.incarnation, from: this.me.name } as const;
    this.claim({ ...f, signature: bytes.subarray(bytes.length - CLAIM_SIG_LEN) }, bytes, { startedAt: since });
    return fresh;
  }

  /**
   * Whether someone else's claim may be believed: its claimer is a member we hold, trusted (unless
   * `evenDistrusted`), within its rate, and signed it.
   */
  private accountable(f: Claim, bytes: Uint8Array, evenDistrusted = false): boolean {
    const claimer = this.table.get(f.from);
    if (claimer === undefined) return this.refuse('unknown-claimer');
    const now = this.host.now();
    if (!evenDistrusted && this.trust.distrusted(f.from, now)) return this.refuse('distrusted-claimer');
    // The rate is taken before the signature is checked: a flood of claims costs us no more than its claimers' rates.
    if (!this.trust.take(f.from, now)) return this.refuse('claim-rate-limited');
    if (!this.host.verifyClaim(claimSigned(bytes), f.signature, claimer.record.signingKey)) return this.refuse('bad-claim-signature');
    return true;
  }

  private refuse(reason: DropReason): false {
    this.drop(reason);
    return false;
  }

  /** `m` showed a newer record of its own: whoever claimed it suspect, or dead moments ago, was wrong. */
  private refuted(m: Member): void {
    const now = this.host.now();
    if (m.state === MemberState.Suspect && m.suspicion !== null) {
      for (const a of m.suspicion.accusers()) if (a !== this.me.name) this.trust.blame(a, now);
    } else if (m.state === MemberState.Dead && m.deadClaim !== null && now - m.since < this.trust.opts.blameWindowMs) {
      const v = decodeFact(m.deadClaim);
      if (v.ok && 'from' in v.fact && v.fact.from !== this.me.name) this.trust.blame(v.fact.from, now);
    }
  }

  /**
   * A forget fact (forget.ts): end the tombstone it names, remember it, pass it on. The cheap
   * checks go first: a signature is checked only for a forget that would end a tombstone here.
   */
  forgetFact(bytes: Uint8Array): void {
    const host = this.host;
    const f = decodeForget(bytes);
    if (f === null) return this.drop('bad-fact');
    const now = host.now();
    if (this.forgets.holds(f, now)) return;
    const wall = host.wall?.() ?? Date.now();
    if (f.issuedAt > wall + FORGET_SKEW_MS || wall - f.issuedAt > host.cfg.tombstoneMs) return this.drop('stale');
    const m = this.table.get(f.name);
    // Not the tombstone it names (unknown here, another key, a later life): nothing here to end.
    if (m === undefined || m === this.me || !bytesEqual(m.record.signingKey, f.key) || m.record.incarnation > f.incarnation) return;
    if (m.isLive) return this.drop('forget-refused');
    const issuer = this.table.get(f.from);
    if (issuer === undefined) return this.drop('unknown-member');
    if (!verifyForget(f, issuer.record.signingKey)) return this.drop('bad-signature');
    if (!this.forgets.remember(f, bytes, now + host.cfg.tombstoneMs, now)) return this.drop('forget-refused');
    this.table.remove(m);
    host.queue.push(forgetQueueKey(f.name), this.forgets.factFor(f.name, now)!);
  }

  /**
   * What brings a peer's anti-entropy up to date on the member with name hash `hash`: its record,
   * after the forget of a former holder of the name (so that the puller takes this record), and
   * for a dead member the claim that made it dead, its claimer's signature and all (`signDead`
   * signs one of ours, for a death we only heard of by a pull).
   */
  factsFor(hash: number, signDead: (m: Member) => Uint8Array): Uint8Array[] {
    const m = this.table.byHash(hash);
    if (m === undefined) return [];
    const out = [encodeFact({ kind: FactKind.Alive, record: m.bytes })];
    const forgot = this.forgets.factFor(m.name, this.host.now());
    if (forgot !== undefined) out.unshift(forgot);
    if (m.state === MemberState.Dead) out.push(m.deadClaim ?? signDead(m));
    return out;
  }

  /**
   * End a dead or departed member's tombstone at an operator's word (`weft forget`) with the forget
   * fact `sign` makes for its record (forget.ts). Refused for a member alive or suspected here,
   * ourselves, or a name we hold nothing of; 'full' when the ledger of forgets is.
   */
  forgetMember(name: string, sign: (r: NodeRecord) => Uint8Array): 'forgotten' | 'unknown' | 'self' | 'alive' | 'suspect' | 'full' {
    const m = this.table.get(name);
    if (m === undefined) return 'unknown';
    if (m === this.me) return 'self';
    if (m.state === MemberState.Alive) return 'alive';
    if (m.state === MemberState.Suspect) return 'suspect';
    this.forgetFact(sign(m.record));
    return this.table.get(name) === m ? 'full' : 'forgotten';
  }

  declareDead(m: Member, fact: Uint8Array, incarnation = m.incarnation): void {
    this.setState(m, MemberState.Dead, incarnation);
    // Our own copy (not a view pinning a datagram): anti-entropy hands it out about this member.
    m.deadClaim = fact.byteLength === fact.buffer.byteLength ? fact : fact.slice();
    this.table.bury(m);
    this.host.stats.declaredDead++;
    this.host.queue.push(m.name, fact);
    this.emit('peer-removed', m, 'dead');
  }

  private setState(m: Member, s: MemberState, incarnation = m.incarnation): void {
    const wasLive = m.isLive;
    this.table.change(m, incarnation, s);
    m.since = this.host.now();
    if (s !== MemberState.Suspect) {
      m.suspicion = null;
      this.suspects.delete(m);
    }
    if (wasLive !== m.isLive) this.liveMembers += m.isLive ? 1 : -1;
    if (m.isLive && !wasLive && m !== this.me) this.host.becameLive(m);
  }

  private emit(type: MemberEvent['type'], m: Member, reason?: 'dead' | 'left'): void {
    if (this.listeners.length === 0) return;
    const e: MemberEvent = reason === undefined
      ? { type, name: m.name, record: m.record, peer: peerOf(m.record) }
      : { type, name: m.name, record: m.record, peer: peerOf(m.record), reason };
    for (const l of this.listeners) l(e);
  }

  private drop(reason: DropReason): void {
    this.host.drops.add(DROP_REASONS.indexOf(reason));
  }
}
