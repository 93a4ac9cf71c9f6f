/**
 * The data path's place in the CPU scheduler.
 *
 * The kernel's own data path runs in softirq context: a packet is handled
 * as soon as it arrives, ahead of every process. weft's data path is a
 * process, and on a busy node it waits its turn behind the pods' processes:
 * measured on two cores with a bulk TCP stream through two weft nodes, a
 * ping between the same pods waited 2.5 to 4.5 ms at the median, most of it
 * for a CPU, not in any queue weft keeps. With the event loop's thread in
 * SCHED_RR at a low real-time priority it runs as soon as it is woken, and
 * the same ping took 0.5 to 1.1 ms, at the same throughput (docs/
 * ARCHITECTURE.md, "Waiting for a CPU").
 *
 * Only the event loop's thread is moved, with SCHED_RESET_ON_FORK: the
 * ip(8) commands weft starts and any thread started later run normally.
 * weft is single-threaded on its data path, so a node at this priority
 * takes at most one CPU, as a softirq flood would; and the kernel keeps
 * 5% of each second for normal tasks (sched_rt_runtime_us) whatever it does.
 */
import { loadAddon } from '../native/addon.ts';
import type { WeftNative } from '../native/addon.ts';

/** The priority asked for by default: above every normal task, below the kernel's interrupt threads (50). */
export const DEFAULT_REALTIME_PRIORITY = 10;

const SCHED_OTHER = 0;
const SCHED_RR = 2;

/** What status shows: the policy the event loop runs under, and why not the one asked for. */
export interface SchedulingStatus {
  /** "SCHED_RR 10", or "normal". */
  policy: string;
  /** Set when a real-time priority was asked for and refused: the errno name and the fix. */
  refused?: string;
}

/**
 * Ask for SCHED_RR at `priority` (0: normal scheduling, the default of a
 * process) for the calling thread. Never throws for a refusal: a node that
 * may not raise its priority still forwards packets, and says so.
 */
export function requestScheduling(priority: number, addon: Pick<WeftNative, 'schedSetRealtime' | 'schedGet'> = loadAddon()): SchedulingStatus {
  const rc = addon.schedSetRealtime(priority);
  const now = currentPolicy(addon);
  if (rc === 0) return { policy: now };
  const name = rc === -1 ? 'EPERM' : `errno ${-rc}`;
  return {
    policy: now,
    refused: `SCHED_RR ${priority} refused (${name}): give weft CAP_SYS_NICE (a container's securityContext.capabilities.add: [SYS_NICE]) or an RLIMIT_RTPRIO of ${priority}, or set scheduling.priority to 0`,
  };
}

function currentPolicy(addon: Pick<WeftNative, 'schedGet'>): string {
  const out = new Int32Array(2);
  if (addon.schedGet(out) !== 0) return 'unknown';
  if (out[0] === SCHED_OTHER) return 'normal';
  if (out[0] === SCHED_RR) return `SCHED_RR ${out[1]}`;
  return `policy ${out[0]} priority ${out[1]}`;
}
