/**
 * The data path's scheduling (src/node/scheduling.ts): normal by default;
 * with scheduling.priority set, weft's event loop thread runs SCHED_RR at
 * that priority, and only that thread (the V8 and libuv threads stay
 * normal); a node that may not raise its priority (CAP_SYS_NICE dropped, no
 * RLIMIT_RTPRIO) still forwards, warns and says why in status.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { ping, peerOf, startWeft, twoNodes, weftMain } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';

const root = requireRoot();

/** Policy (0 normal, 2 SCHED_RR) and real-time priority of one thread, from /proc: fields 41 and 40 of stat. */
function threadScheduling(pid: number, tid: number): { policy: number; priority: number } {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: field 3 is index 0.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { policy: Number(fields[41 - 3]), priority: Number(fields[40 - 3]) };
}

function threadsOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map(Number);
}

describe.skipIf(!root)('scheduling: the event loop at a real-time priority', () => {
  const sb = new NetnsSandbox();
  let nodes: TwoNodes;
  let wa: WeftProcess;
  let wb: WeftProcess;

  beforeAll(async () => {
    nodes = await twoNodes(sb);
    const { a, b } = nodes;
    wa = await startWeft(sb, a, [peerOf(b)], { scheduling: { priority: 10 } });
    // Node b may not raise its priority: CAP_SYS_NICE out of its bounding and inheritable sets, RLIMIT_RTPRIO 0.
    wb = await startWeft(sb, b, [peerOf(a)], { scheduling: { priority: 10 } }, ['setpriv', '--inh-caps=-sys_nice', '--bounding-set=-sys_nice', '--', 'prlimit', '--rtprio=0', '--']);
  });

  afterAll(async () => {
    await sb.destroy();
  });

  it('asked for priority 10, only the event loop thread runs SCHED_RR 10; every other thread stays normal', () => {
    const pid = wa.proc.child.pid!;
    expect(wa.ready.scheduling).toBe('SCHED_RR 10');
    expect(threadScheduling(pid, pid)).toEqual({ policy: 2, priority: 10 });
    const others = threadsOf(pid).filter((t) => t !== pid);
    expect(others.length).toBeGreaterThan(0);
    for (const tid of others) expect(threadScheduling(pid, tid)).toEqual({ policy: 0, priority: 0 });
  });

  it('a node refused the priority forwards at normal priority, warns, and status says why and what to do', async () => {
    const pid = wb.proc.child.pid!;
    expect(threadScheduling(pid, pid)).toEqual({ policy: 0, priority: 0 });
    const warning = wb.proc.stderr().split('\n').find((l) => l.includes('real-time scheduling refused'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!)).toMatchObject({ level: 'warn', reason: expect.stringContaining('SCHED_RR 10 refused (EPERM)') });
    const human = await sb.run(nodes.b.ns, [process.execPath, weftMain(), 'status', '--socket', wb.controlSocket]);
    expect(human).toMatch(/^ {2}scheduling: normal \(SCHED_RR 10 refused \(EPERM\): give weft CAP_SYS_NICE .* or set scheduling\.priority to 0\)$/mu);
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
  });

  it('by default the node keeps normal scheduling, and another priority is taken as asked', async () => {
    await wa.stop();
    wa = await startWeft(sb, nodes.a, [peerOf(nodes.b)]);
    expect(wa.ready.scheduling).toBe('normal');
    expect(threadScheduling(wa.proc.child.pid!, wa.proc.child.pid!)).toEqual({ policy: 0, priority: 0 });
    await wa.stop();
    wa = await startWeft(sb, nodes.a, [peerOf(nodes.b)], { scheduling: { priority: 20 } });
    expect(wa.ready.scheduling).toBe('SCHED_RR 20');
    expect(threadScheduling(wa.proc.child.pid!, wa.proc.child.pid!)).toEqual({ policy: 2, priority: 20 });
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
  });
});
