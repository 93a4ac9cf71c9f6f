import { describe, expect, it } from 'vitest';
import { requestScheduling } from '../../../src/node/scheduling.ts';
import type { WeftNative } from '../../../src/native/addon.ts';

type SchedCalls = Pick<WeftNative, 'schedSetRealtime' | 'schedGet'>;

/** A kernel that grants or refuses: it records what was asked and reports the thread's policy after it. */
function kernel(grants: boolean): SchedCalls & { asked: number[] } {
  let policy = 0;
  let priority = 0;
  const asked: number[] = [];
  return {
    asked,
    schedSetRealtime(p: number) {
      asked.push(p);
      if (!grants && p > 0) return -1; // -EPERM
      policy = p === 0 ? 0 : 2;
      priority = p;
      return 0;
    },
    schedGet(out: Int32Array) {
      out[0] = policy;
      out[1] = priority;
      return 0;
    },
  };
}

describe('requestScheduling', () => {
  it('names the policy the thread got; 0 asks for nothing and reports the policy the thread has', () => {
    const k = kernel(true);
    expect(requestScheduling(0, k)).toEqual({ policy: 'normal' });
    expect(requestScheduling(10, k)).toEqual({ policy: 'SCHED_RR 10' });
    // Started under chrt, or asked before: 0 leaves it as it is.
    expect(requestScheduling(0, k)).toEqual({ policy: 'SCHED_RR 10' });
    expect(k.asked).toEqual([10]);
  });

  it('a refusal is reported, never thrown: the node forwards at normal priority and the text names the fix', () => {
    const s = requestScheduling(10, kernel(false));
    expect(s.policy).toBe('normal');
    expect(s.refused).toBe('SCHED_RR 10 refused (EPERM): give weft CAP_SYS_NICE (a container\'s securityContext.capabilities.add: [SYS_NICE]) or an RLIMIT_RTPRIO of 10, or set scheduling.priority to 0');
  });

  it('names another errno by number, and a policy it cannot read as unknown', () => {
    const k = { schedSetRealtime: () => -22, schedGet: () => -3 };
    expect(requestScheduling(5, k)).toEqual({ policy: 'unknown', refused: expect.stringMatching(/^SCHED_RR 5 refused \(errno 22\): /u) });
  });
});
