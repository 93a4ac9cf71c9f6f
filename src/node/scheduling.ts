/**
 * The data path's place in the CPU scheduler: normal by default, SCHED_RR
 * at a low real-time priority when the config asks (scheduling.priority).
 *
 * The kernel's own data path runs in softirq context, ahead of every
 * process. weft's is a process, and on a busy node it waits its turn behind
 * the pods' processes: on two cores with a bulk TCP stream through two weft
 * nodes, a ping between the same pods waited 2.7 ms at the median (VXLAN),
 * most of it for a CPU, not in any queue weft keeps. With the event loop's
 * thread in SCHED_RR 10 the same ping took 0.5 ms, at the same throughput.
 * It is not the default because it costs elsewhere, measured in the same
 * runs (docs/ARCHITECTURE.md, "Waiting for a CPU"): an idle ping took 0.3 ms
 * longer (likely where a real-time task is woken on a virtual machine; not
 * pinned down), and UDP floods that saturate weft delivered 30 to 40% fewer
 * packets to the pods, whose processes got the CPU only when weft left it;
 * and a container needs CAP_SYS_NICE for it.
 *
 * Only the event loop's thread is moved, with SCHED_RESET_ON_FORK: the
 * ip(8) commands weft starts and any thread started later run normally.
 * weft is single-threaded on its data path, so a node at this priority
 * takes at most one CPU, as a softirq flood would; and the kernel keeps
 * 5% of each second for normal tasks (sched_rt_runtime_us) whatever it does.
 */
import { loadAddon } from '../native/addon.ts';
import type { WeftNative } from '../native/addon.ts';

/** The priority to ask for, when asking: above every normal task, below the kernel's interrupt threads (50). */
export const SUGGESTED_REALTIME_PRIORITY = 10;

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
 * Ask for SCHED_RR at `priority` for the calling thread; 0 asks for nothing
 * and reports the policy the thread was started with (normal, unless an
 * operator ran weft under chrt). Never throws for a refusal: a node that
 * may not raise its priority still forwards packets, and says so.
 */
export function requestScheduling(priority: number, addon: Pick<WeftNative, 'schedSetRealtime' | 'schedGet'> = loadAddon()): SchedulingStatus {
  if (priority === 0) return { policy: currentPolicy(addon) };
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
