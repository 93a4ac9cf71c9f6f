/**
 * A virtual clock for the simulator: one event heap for the whole simulated
 * cluster, so 1000 nodes live through minutes of protocol time in seconds of
 * real time. Each node gets a `NodeClock` view (the gossip Clock interface)
 * whose ticks stop while the node is paused and fire once, late, when it
 * resumes: exactly what a stalled event loop looks like to the node.
 */
import type { Clock, TickHandle } from '../../src/gossip/clock.ts';

interface Event {
  t: number;
  seq: number;
  fn: () => void;
}

export class Scheduler {
  private heap: Event[] = [];
  private seq = 0;
  now = 0;
  events = 0;

  at(t: number, fn: () => void): void {
    const e = { t: Math.max(t, this.now), seq: this.seq++, fn };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, e)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  after(ms: number, fn: () => void): void {
    this.at(this.now + ms, fn);
  }

  /** Run every event up to and including time `t`; the clock then reads `t`. */
  runUntil(t: number): void {
    const h = this.heap;
    while (h.length > 0 && h[0]!.t <= t) {
      const e = h[0]!;
      const last = h.pop()!;
      if (h.length > 0) {
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= h.length) break;
          const r = l + 1;
          const c = r < h.length && less(h[r]!, h[l]!) ? r : l;
          if (less(last, h[c]!)) break;
          h[i] = h[c]!;
          i = c;
        }
        h[i] = last;
      }
      this.now = e.t;
      this.events++;
      e.fn();
    }
    this.now = t;
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }
}

function less(a: Event, b: Event): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

/** The simulation starts at this wall-clock time (2026-01-01T00:00:00Z). */
export const SIM_EPOCH_MS = 1_767_225_600_000;

/** One node's clock: the shared time, and ticks that respect the node's pauses. */
export class NodeClock implements Clock {
  pausedUntil = 0;

  /** `skewMs`: how far this node's wall clock is off the simulation's (clocks of real nodes disagree). */
  constructor(
    private readonly sched: Scheduler,
    readonly skewMs = 0,
  ) {}

  now(): number {
    return this.sched.now;
  }

  /** Wall-clock time: a fixed epoch plus virtual time plus this node's skew. */
  wall(): number {
    return SIM_EPOCH_MS + this.sched.now + this.skewMs;
  }

  every(periodMs: number, fn: () => void): TickHandle {
    let live = true;
    const run = (): void => {
      if (!live) return;
      if (this.sched.now < this.pausedUntil) {
        this.sched.at(this.pausedUntil, run);
        return;
      }
      fn();
      this.sched.after(periodMs, run);
    };
    this.sched.after(periodMs, run);
    return { cancel: () => (live = false) };
  }
}
