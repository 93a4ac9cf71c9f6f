/**
 * SWIM's failure detector, the probing half of membership: a round robin
 * over a random permutation of the live members (every member is probed
 * within a bounded time, SWIM section 4.3), a direct ping, then after the
 * probe timeout k indirect pings through other members plus a second direct
 * one, and a verdict at the end of the interval. It also serves other
 * members' indirect probes (ping-req), answering with a nack when the target
 * stays silent so the asker can tell "target down" from "we are cut off"
 * (Lifeguard section 4.1).
 *
 * A probe that fails about a member nobody suspects yet gets a second
 * chance before anyone is told: one more probe right away. A node that only
 * stalled for a moment (a GC pause, a busy event loop) answers that one from
 * its socket buffer, and the cluster never hears of it; a suspicion spread
 * cluster-wide costs every node a suspect claim and a refutation, and the
 * number of members that stall grows with the cluster, so the suspicions
 * of live members cost every node more as N grows. The second chance is
 * therefore built not to fail on a live member:
 *   - on loss: it asks `secondChanceChecks` relays at once (not after the
 *     timeout) and pings directly three times. With k = 3 relays after the
 *     timeout and two direct pings, as a first probe does, 10% loss alone
 *     failed it 0.15% of the time (0.19^2 * 0.344^3: a ping and its ack, or
 *     the four hops through a relay, all lost), and that was where most
 *     suspicions of live nodes under loss came from
 *     (bench/gossip/traffic-breakdown.ts --trace);
 *   - on a stall: it lasts two probe intervals, so a member stalled for up
 *     to a second (two 500 ms pauses back to back) answers before its
 *     verdict. It lasted as long by accident before: every failed probe
 *     raised the health score (the relays' nacks came just too late), which
 *     doubled the next interval.
 * A node that is really gone fails the second probe too; the suspicion then
 * starts from the first failure, so the second chance delays only when the
 * news starts to spread, not the suspicion's deadline.
 *
 * Membership owns the member table; the prober only calls back through
 * `ProberHost` with its verdict, so the state machine stays in one place.
 * The probe list holds Member objects that may since have been replaced in
 * the table (a member is copied on its first change when it was shared:
 * member-table.ts), so every use looks the current one up by name.
 */
import type { Awareness } from './awareness.ts';
import { MsgType } from './codec.ts';
import type { Message } from './codec.ts';
import type { Member, MembershipConfig } from './member.ts';

export interface ProberHost {
  readonly selfName: string;
  now(): number;
  random(): number;
  lookup(name: string): Member | undefined;
  /** Send to the member named `to`; `reply` marks an answer to someone's request (a relay's ack or nack). */
  send(address: string, port: number, msg: Message, to: string, reply: boolean): void;
  /** Facts to piggyback on one message. */
  take(): Uint8Array[];
  /** The probe of `target` failed (first at `since`): suspect it, or confirm the suspicion. */
  failed(target: Member, since: number): void;
}

interface Probe {
  target: Member;
  seq: number;
  timeoutAt: number;
  deadline: number;
  indirect: boolean;
  /** Direct pings sent, and when the next is due (every `spacing` ms, up to `maxPings`). */
  pings: number;
  maxPings: number;
  nextPingAt: number;
  expectedNacks: number;
  nacks: number;
  /** When an earlier probe of the same target failed: this one is its second chance. */
  retryOf: number;
  /** Between its direct pings, ms. */
  spacing: number;
}

interface Relay {
  address: string;
  port: number;
  origin: string;
  originSeq: number;
  nackAt: number;
  expireAt: number;
}

/** A relay nacks after this fraction of the probe timeout without the target's ack (see onPingReq). */
export const NACK_AFTER = 0.8;

export class Prober {
  readonly stats = { probes: 0, failedProbes: 0, secondChances: 0, savedBySecondChance: 0 };
  private list: Member[] = [];
  private idx = 0;
  private probe: Probe | null = null;
  private readonly relays = new Map<number, Relay>();
  private seq = 0;
  private nextProbeAt = 0;

  constructor(
    private readonly host: ProberHost,
    private readonly cfg: MembershipConfig,
    private readonly awareness: Awareness,
  ) {}

  start(now: number): void {
    // A random phase, so that nodes started together do not probe in lockstep.
    this.nextProbeAt = now + this.host.random() * this.cfg.probeIntervalMs;
  }

  /** The table's live member by this one's name (the list may hold a replaced copy), or null. */
  private current(m: Member): Member | null {
    const c = this.host.lookup(m.name);
    return c !== undefined && c.isLive ? c : null;
  }

  /** A member became live: insert it at a random unvisited place (append, swap: O(1), unlike splice). */
  add(m: Member): void {
    const list = this.list;
    list.push(m);
    const i = this.idx + Math.floor(this.host.random() * (list.length - this.idx));
    list[list.length - 1] = list[i]!;
    list[i] = m;
  }

  /** Up to n distinct random live members (other than `except`): gossip and relay targets. */
  randomLive(n: number, except?: Member): Member[] {
    const out: Member[] = [];
    const len = this.list.length;
    for (let tries = 0; tries < 4 * n + 8 && out.length < n && len > 0; tries++) {
      const m = this.current(this.list[Math.floor(this.host.random() * len)]!);
      if (m !== null && m.name !== except?.name && !out.includes(m)) out.push(m);
    }
    return out;
  }

  private nextTarget(): Member | null {
    for (let tries = 0; tries <= this.list.length; tries++) {
      if (this.idx >= this.list.length) {
        // End of a round: drop the dead and repeats, keep current copies, reshuffle (Fisher-Yates).
        const seen = new Set<string>();
        const next: Member[] = [];
        for (const m of this.list) {
          const c = this.current(m);
          if (c !== null && !seen.has(c.name)) {
            seen.add(c.name);
            next.push(c);
          }
        }
        this.list = next;
        for (let i = this.list.length - 1; i > 0; i--) {
          const j = Math.floor(this.host.random() * (i + 1));
          [this.list[i], this.list[j]] = [this.list[j]!, this.list[i]!];
        }
        this.idx = 0;
        if (this.list.length === 0) return null;
      }
      const m = this.current(this.list[this.idx++]!);
      if (m !== null) return m;
    }
    return null;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  onAck(seq: number): void {
    if (this.probe !== null && this.probe.seq === seq) {
      if (this.probe.retryOf >= 0) this.stats.savedBySecondChance++;
      this.awareness.apply(-1);
      this.probe = null;
      return;
    }
    const r = this.relays.get(seq);
    if (r !== undefined) {
      this.relays.delete(seq);
      this.host.send(r.address, r.port, { type: MsgType.Ack, from: this.host.selfName, seq: r.originSeq, facts: this.host.take() }, r.origin, true);
    }
  }

  onNack(seq: number): void {
    if (this.probe !== null && this.probe.seq === seq) this.probe.nacks++;
  }

  /** The member `origin` (at address:port) asks us to probe `target` for it. */
  onPingReq(target: string, originSeq: number, address: string, port: number, origin: string): void {
    const t = this.host.lookup(target);
    if (t === undefined || !t.isLive) return;
    const seq = this.nextSeq();
    const now = this.host.now();
    // The nack must reach the origin before its verdict, or Lifeguard's health score blames the origin
    // for every dead target: it asked at its timeout (150 ms) and decides one tick before its interval
    // ends (350 ms), and a nack after a full timeout, sent on our next tick, arrived up to 351 ms in
    // (in the simulator, whose ticks share one phase, always after 350). At 0.8 of the timeout it
    // arrives by about 320 ms. We still pass on a late ack for as long as a second chance lasts.
    this.relays.set(seq, { address, port, origin, originSeq, nackAt: now + NACK_AFTER * this.cfg.probeTimeoutMs, expireAt: now + 2 * this.cfg.probeIntervalMs });
    this.ping(t, seq);
  }

  private ping(t: Member, seq: number): void {
    this.host.send(t.record.address, t.record.gossipPort, { type: MsgType.Ping, from: this.host.selfName, seq, target: t.name, facts: this.host.take() }, t.name, false);
  }

  /** We were stalled for `lag` ms: replies may be unread in our socket, so push our deadlines out. */
  stall(lag: number): void {
    if (this.probe !== null) {
      this.probe.timeoutAt += lag;
      this.probe.nextPingAt += lag;
      this.probe.deadline += lag;
    }
    for (const r of this.relays.values()) r.nackAt += lag;
  }

  tick(now: number, probing: boolean): void {
    for (const [seq, r] of this.relays) {
      if (r.nackAt >= 0 && now >= r.nackAt) {
        r.nackAt = -1;
        this.host.send(r.address, r.port, { type: MsgType.Nack, from: this.host.selfName, seq: r.originSeq, facts: [] }, r.origin, true);
      }
      if (now >= r.expireAt) this.relays.delete(seq);
    }
    const p = this.probe;
    if (p !== null) {
      if (!p.indirect && now >= p.timeoutAt) this.askRelays(p, this.cfg.indirectChecks);
      if (p.pings < p.maxPings && now >= p.nextPingAt && now < p.deadline) {
        // Another direct ping: one lost datagram on a lossy link should not cost a suspicion.
        p.pings++;
        p.nextPingAt = now + p.spacing;
        const t = this.current(p.target);
        if (t !== null) this.ping(t, p.seq);
      }
      if (now < p.deadline) return;
      this.probe = null;
      this.stats.failedProbes++;
      // Lifeguard: if even the relays' nacks did not come back, the fault is likely ours.
      if (p.nacks < p.expectedNacks) this.awareness.apply(1);
      const t = this.current(p.target);
      if (t !== null) {
        const firstFailure = p.retryOf >= 0 ? p.retryOf : now;
        // Suspected already (by others): our failure is a confirmation, no reason to wait.
        if (p.retryOf >= 0 || t.suspicion !== null || !probing) this.host.failed(t, firstFailure);
        else {
          this.stats.secondChances++;
          this.begin(t, now, now);
          return;
        }
      }
    }
    if (now < this.nextProbeAt || !probing) return;
    const t = this.nextTarget();
    if (t === null) {
      this.nextProbeAt = now + this.awareness.scale(this.cfg.probeIntervalMs);
      return;
    }
    this.begin(t, now, -1);
  }

  /** Probe `t` now; `retryOf` >= 0 makes it the second chance of a probe that failed then. */
  private begin(t: Member, now: number, retryOf: number): void {
    // A second chance lasts two intervals (see the header): a member stalled for up to about a second
    // (two 500 ms pauses back to back) answers from its socket buffer before the verdict.
    const interval = this.awareness.scale(this.cfg.probeIntervalMs) * (retryOf >= 0 ? 2 : 1);
    this.nextProbeAt = now + interval;
    this.stats.probes++;
    const seq = this.nextSeq();
    const timeout = this.awareness.scale(this.cfg.probeTimeoutMs);
    // The verdict comes one tick before the next probe is due, so probes never overlap.
    // A first probe pings at the start and at the timeout; a second chance at its start, a third and two thirds in.
    const deadline = now + interval - this.cfg.tickMs;
    const spacing = retryOf >= 0 ? Math.floor((deadline - now) / 3) : timeout;
    const p: Probe = {
      target: t, seq, spacing, timeoutAt: now + timeout, deadline,
      indirect: false, pings: 1, maxPings: retryOf >= 0 ? 3 : 2, nextPingAt: now + spacing, expectedNacks: 0, nacks: 0, retryOf,
    };
    this.probe = p;
    this.ping(t, seq);
    // A second chance asks its relays at once: they have the whole interval to get an answer through.
    if (retryOf >= 0) this.askRelays(p, this.cfg.secondChanceChecks);
  }

  /** Ask `k` random members to probe the target for us (ping-req); their nacks tell us they were heard. */
  private askRelays(p: Probe, k: number): void {
    p.indirect = true;
    const relays = this.randomLive(k, p.target);
    p.expectedNacks = relays.length;
    for (const r of relays) {
      this.host.send(r.record.address, r.record.gossipPort, {
        type: MsgType.PingReq, from: this.host.selfName, seq: p.seq, target: p.target.name, facts: this.host.take(),
      }, r.name, false);
    }
  }
}
