/**
 * Time as the gossip core sees it. The protocol never calls Date.now() or
 * setTimeout itself: it reads `now()` and is driven by one coarse periodic
 * tick, so the same code runs on a real clock in the daemon and on a virtual
 * clock in the simulator, where 1000 nodes live through minutes in seconds.
 *
 * One tick for everything (probes, suspicion deadlines, gossip rounds, sync)
 * follows the hot-path rule of coarse timers: a node with 1000 members does
 * not hold 1000 timers, it compares deadlines when the tick fires.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock; only differences matter. */
  now(): number;
  /** Call `fn` every `periodMs` until the returned handle is cancelled. */
  every(periodMs: number, fn: () => void): TickHandle;
  /**
   * Wall-clock ms since the Unix epoch, for the stamps that bound a datagram's age across nodes
   * (replay-guard.ts); Date.now() when absent. Monotonic `now()` cannot serve: it is per process.
   */
  wall?(): number;
}

export interface TickHandle {
  cancel(): void;
}

/** The process clock: performance.now() and one setInterval, unref'd so it never keeps a process alive. */
export class RealClock implements Clock {
  now(): number {
    return performance.now();
  }

  wall(): number {
    return Date.now();
  }

  every(periodMs: number, fn: () => void): TickHandle {
    const t = setInterval(fn, periodMs);
    t.unref();
    return { cancel: () => clearInterval(t) };
  }
}
