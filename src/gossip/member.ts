/**
 * One member as membership tracks it, the protocol's tunable defaults, the
 * options a Membership is built from and the reasons it drops input.
 * Each default says why it has its value; the targets are detection of a
 * dead node within 4 s and a new record at every node within 1 s at 1000
 * nodes on a LAN, with no false positives at 10% loss and 500 ms pauses.
 */
import type { AdmissionOptions } from './admission.ts';
import type { ClaimTrustOptions } from './claim-trust.ts';
import type { Clock } from './clock.ts';
import type { Keyring } from './keyring.ts';
import type { RecordFields, NodeRecord, RecordVerdict } from './record.ts';
import type { Suspicion } from './suspicion.ts';
import type { GossipTransport } from './transport.ts';

export const MemberState = { Alive: 0, Suspect: 1, Dead: 2, Left: 3 } as const;
export type MemberState = (typeof MemberState)[keyof typeof MemberState];

export class Member {
  /** Not live until membership admits it (setState keeps the live count and probe list). */
  state: MemberState = MemberState.Dead;
  /** The incarnation of what we believe (a suspect or dead claim may carry the record's). */
  incarnation: number;
  suspicion: Suspicion | null = null;
  /** Read by many tables (member-table.ts): never written, copied on a table's first change. */
  shared = false;
  /** The signed claim that made it dead here, passed on as it is (anti-entropy), so its claimer stays the one accountable. */
  deadClaim: Uint8Array | null = null;

  constructor(
    public record: NodeRecord,
    /** The signed record as received: forwarded verbatim, since only its owner can sign. */
    public bytes: Uint8Array,
    readonly hash: number,
    /** When the state last changed (clock ms): tombstone age, IPAM's grace period. */
    public since: number,
  ) {
    this.incarnation = record.incarnation;
  }

  get name(): string {
    return this.record.name;
  }

  /** A private copy (of a shared member), to be written. */
  copy(): Member {
    const c = new Member(this.record, this.bytes, this.hash, this.since);
    c.state = this.state;
    c.incarnation = this.incarnation;
    c.suspicion = this.suspicion;
    c.deadClaim = this.deadClaim;
    return c;
  }

  get isLive(): boolean {
    return this.state === MemberState.Alive || this.state === MemberState.Suspect;
  }

  /** Anti-entropy's order: suspicion is transient and not synced; dead and left are. */
  get stateClass(): number {
    return this.state === MemberState.Dead ? 1 : this.state === MemberState.Left ? 2 : 0;
  }
}

export interface MembershipConfig {
  /** One tick drives every timer. 50 ms: 20 cheap deadline checks a second, fine enough for a 150 ms probe timeout. */
  tickMs: number;
  /**
   * 400 ms between probes (memberlist: 1 s). Detection time is about one
   * interval to notice plus the minimum suspicion time, which is itself a
   * multiple of the interval, so the 4 s target at 1000 nodes sets it.
   */
  probeIntervalMs: number;
  /** 150 ms for a direct ack: LAN round trips are well under 1 ms, the rest is room for a busy peer's event loop; the remaining 250 ms serve the indirect probes. */
  probeTimeoutMs: number;
  /** k = 3 members asked to probe indirectly (SWIM's k, Lifeguard's wanted confirmations). */
  indirectChecks: number;
  /**
   * Relays asked at once by a second chance (prober.ts), whose failure starts a suspicion: 6, so
   * that 10% loss alone fails it about once in 100,000 (0.19^3 for three direct pings and their acks,
   * 0.344^6 for six four-hop relay paths; with 3 relays and two pings, once in 700). Second chances
   * are rare (a few per 100 probes under pauses), so the extra relays cost little.
   */
  secondChanceChecks: number;
  /**
   * Minimum suspicion = 1 * log10(N) * interval: 1.2 s at 1000 nodes, 1.6 s at 10,000, ample for a
   * refutation to spread (under 1 s; the suspect hears at once from its accuser, prober.ts). It
   * was 2 before suspicions waited for a second failed probe: at 10,000 nodes that alone was
   * 3.2 s of the 4 s target for removing a dead node everywhere, and with 1.5 the bench measured
   * 4.70 s to 99.9% of 10,000 nodes.
   */
  suspicionMult: number;
  /** Unconfirmed suspicions wait 3x the minimum (Lifeguard's beta): one member's bad link cannot kill a node fast. */
  suspicionMaxMult: number;
  /**
   * Each fact rides on 3 * ceil(log10(N + 1)) messages (memberlist's RetransmitMult is 4): enough to
   * reach everyone w.h.p., anti-entropy repairs the rest; the bench still has 99.9% of 10,000 nodes
   * in 0.66 s, and each cluster-wide fact (a refutation is 200 bytes) costs every node a quarter less.
   */
  retransmitMult: number;
  /** Gossip rounds every 100 ms to 3 members when something is queued: about 7 rounds reach 1000 nodes, under the 1 s target. */
  gossipIntervalMs: number;
  gossipFanout: number;
  /** Keep telling a freshly declared dead node for 5 s, so a wrongly declared one hears and refutes. */
  gossipToDeadMs: number;
  /** One digest exchange a second with a random member: 256 bytes when nothing differs. */
  syncIntervalMs: number;
  /** One sync in 4 goes to a tombstoned member when there are any: that is how partitions heal. */
  syncDeadChance: number;
  /** Dead members are remembered 10 min, so old facts cannot resurrect them and IPAM's grace period can run. */
  tombstoneMs: number;
  /** Lifeguard's health scale (1..8x). */
  awarenessMax: number;
  /** A tick later than this means the event loop stalled; 100 ms (two ticks) ignores ordinary GC pauses. */
  lagThresholdMs: number;
}

export const DEFAULT_CONFIG: MembershipConfig = {
  tickMs: 50,
  probeIntervalMs: 400,
  probeTimeoutMs: 150,
  indirectChecks: 3,
  secondChanceChecks: 6,
  suspicionMult: 1,
  suspicionMaxMult: 3,
  retransmitMult: 3,
  gossipIntervalMs: 100,
  gossipFanout: 3,
  gossipToDeadMs: 5_000,
  syncIntervalMs: 1_000,
  syncDeadChance: 0.25,
  tombstoneMs: 600_000,
  awarenessMax: 8,
  lagThresholdMs: 100,
};

/**
 * Why a datagram or fact was dropped (Membership.drops): never an exception.
 * version: not gossip v1; unauthenticated: no key of the ring opens it;
 * malformed: opened but unparseable; bad-fact / bad-record: a fact or record
 * that does not parse; bad-signature: a record not signed by the key it
 * names; key-mismatch: a record for a known name under another key (a forgery
 * or a reinstalled node); stale: an older incarnation than we know; ahead:
 * a suspect or dead claim above the incarnation of the record we hold;
 * unknown-member: a claim about a node we have no record of; wrong-target: a
 * ping meant for another node (an old address); sync-busy: a full sync
 * refused by the cap. Admission (admission.ts): wrong-recipient: stamped for
 * another node; replay: a nonce seen before; too-old / too-new: stamped
 * outside the acceptance window; replay-cache-full: older than the full
 * replay cache can vouch for; unverified: a ping-req from no member's
 * address; duplicate: an identical request within a second; rate-limited:
 * its source's token bucket was empty. reply-budget counts replies not sent:
 * they would have exceeded what an unverified source sent us, times 3.
 * Forget facts (forget.ts): forgotten: a record an operator forgot (that
 * key, that incarnation or older); forget-refused: a forget about a member
 * live here, or one more than the ledger holds (malformed, forged, unknown
 * issuer and out-of-date forgets count as bad-fact, bad-signature,
 * unknown-member and stale). Claims (claim.ts, claim-trust.ts):
 * unsigned-claim: a suspect or dead claim in the unsigned form of weft
 * before signed claims; unknown-claimer: signed by a name we hold no record
 * of; distrusted-claimer: its claimer's claims keep being refuted;
 * claim-rate-limited: over its claimer's rate; bad-claim-signature: not
 * signed by the key of the claimer it names (a forgery).
 */
export const DROP_REASONS = [
  'version', 'unauthenticated', 'malformed', 'bad-fact', 'bad-record', 'bad-signature',
  'key-mismatch', 'stale', 'ahead', 'unknown-member', 'wrong-target', 'sync-busy',
  'wrong-recipient', 'replay', 'too-old', 'too-new', 'replay-cache-full', 'unverified', 'duplicate',
  'rate-limited', 'reply-budget', 'forgotten', 'forget-refused',
  'unsigned-claim', 'unknown-claimer', 'distrusted-claimer', 'claim-rate-limited', 'bad-claim-signature',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** What a Membership is built from: its clock, socket, cluster keyring, signing key and own record. */
export interface MembershipOptions {
  clock: Clock;
  transport: GossipTransport;
  keyring: Keyring;
  secretKey: Uint8Array;
  self: RecordFields;
  /** Start above any incarnation a previous run may have used (e.g. seconds since the epoch); refutation covers the rest. */
  incarnation?: number;
  random?: () => number;
  /** Signature check; the simulator passes a memo shared by its nodes. */
  verify?: (body: Uint8Array, signature: Uint8Array, key: Uint8Array) => boolean;
  /** Record parser; the simulator passes a memo shared by its nodes (records are immutable). */
  decode?: (bytes: Uint8Array) => RecordVerdict;
  /** A claim's signature check (claim.ts); the simulator passes a memo shared by its nodes. */
  verifyClaim?: (body: Uint8Array, signature: Uint8Array, key: Uint8Array) => boolean;
  /** Claim rates and distrust (claim-trust.ts); the defaults say why they are what they are. */
  claimTrust?: Partial<ClaimTrustOptions>;
  config?: Partial<MembershipConfig>;
  /** Replay, rate and reply limits (admission.ts); the defaults say why they are what they are. */
  admission?: AdmissionOptions;
}
