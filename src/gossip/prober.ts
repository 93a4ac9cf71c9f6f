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
 * chance before anyone is told: one more full probe (direct ping, then k
 * indirect ones) right away. A node that only stalled for a moment (a GC
 * pause, a busy event loop) answers that one from its socket buffer, and the
 * cluster never hears of it; a suspicion spread cluster-wide costs every
 * node a suspect claim and a refutation, and with 5% of 10,000 nodes pausing
 * each second that was most of the cluster's traffic. A node that is really
 * gone fails the second probe too, one probe interval later; the suspicion
 * then starts from the first failure, so detection loses nothing to it.
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
  expectedNacks: number;
  nacks: number;
  /** When an earlier probe of the same target failed: this one is its second chance. */
  retryOf: number;
}

interface Relay {
  address: string;
  port: number;
  origin: string;
  originSeq: number;
  nackAt: number;
  expireAt: number;
}

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
    this.relays.set(seq, { address, port, origin, originSeq, nackAt: now + this.cfg.probeTimeoutMs, expireAt: now + this.cfg.probeIntervalMs });
    this.ping(t, seq);
  }

  private ping(t: Member, seq: number): void {
    this.host.send(t.record.address, t.record.gossipPort, { type: MsgType.Ping, from: this.host.selfName, seq, target: t.name, facts: this.host.take() }, t.name, false);
  }

  /** We were stalled for `lag` ms: replies may be unread in our socket, so push our deadlines out. */
  stall(lag: number): void {
    if (this.probe !== null) {
      this.probe.timeoutAt += lag;
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
      if (!p.indirect && now >= p.timeoutAt) {
        p.indirect = true;
        const relays = this.randomLive(this.cfg.indirectChecks, p.target);
        p.expectedNacks = relays.length;
        for (const r of relays) {
          this.host.send(r.record.address, r.record.gossipPort, {
            type: MsgType.PingReq, from: this.host.selfName, seq: p.seq, target: p.target.name, facts: this.host.take(),
          }, r.name, false);
        }
        // A second direct ping: one lost datagram on a lossy link should not cost a suspicion.
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
    const interval = this.awareness.scale(this.cfg.probeIntervalMs);
    this.nextProbeAt = now + interval;
    this.stats.probes++;
    const seq = this.nextSeq();
    // The verdict comes one tick before the next probe is due, so probes never overlap.
    this.probe = {
      target: t, seq, timeoutAt: now + this.awareness.scale(this.cfg.probeTimeoutMs), deadline: now + interval - this.cfg.tickMs,
      indirect: false, expectedNacks: 0, nacks: 0, retryOf,
    };
    this.ping(t, seq);
  }
}
