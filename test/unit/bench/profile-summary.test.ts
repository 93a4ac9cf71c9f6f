/** The CPU profile summary the e2e bench's --profile prints, on a made-up profile. */
import { describe, expect, it } from 'vitest';
import { summarizeProfile, summaryMarkdown } from '../../../bench/util/profile-summary.ts';
import type { CpuProfile } from '../../../bench/util/profile-summary.ts';

const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber });

const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)', '', -1) },
    { id: 2, callFrame: frame('(idle)', '', -1) },
    { id: 3, callFrame: frame('segment', 'file:///w/dist/src/offload/tso.js', 40) },
    { id: 4, callFrame: frame('', 'file:///w/dist/src/offload/tso.js', 99) },
    { id: 5, callFrame: frame('encapsulate', 'file:///w/dist/src/vxlan/vxlan-encapsulation.js', 9) },
    { id: 6, callFrame: frame('(garbage collector)', '', -1) },
  ],
  // Each sample's time is the delta after it: 3 -> 4000 us, 5 -> 2000, 4 -> 1000, 2 -> 3000, 6 -> 1000, 3 -> 1000 (the last one's delta is unknown: 0).
  samples: [3, 5, 4, 2, 6, 3, 5],
  timeDeltas: [0, 4000, 2000, 1000, 3000, 1000, 1000],
};

describe('summarizeProfile', () => {
  it('charges each sample the time until the next one, by function and by file, idle apart', () => {
    const s = summarizeProfile(profile);
    expect(s.idleMs).toBe(3);
    expect(s.busyMs).toBe(9);
    expect(s.functions.map((c) => [c.name, c.selfMs])).toEqual([
      ['segment tso.js:41', 5],
      ['encapsulate vxlan-encapsulation.js:10', 2],
      ['(anonymous) tso.js:100', 1],
      ['(garbage collector)', 1],
    ]);
    expect(s.files.map((c) => [c.name, c.selfMs])).toEqual([
      ['tso.js', 6],
      ['vxlan-encapsulation.js', 2],
      ['(garbage collector)', 1],
    ]);
    expect(s.files[0]!.share).toBeCloseTo(6 / 9);
    expect(summarizeProfile(profile, 1).functions).toHaveLength(1);
  });

  it('writes a markdown table per profile', () => {
    const md = summaryMarkdown('node-a', summarizeProfile(profile, 2));
    expect(md).toContain('busy 0.01 s, idle 0.00 s');
    expect(md).toContain('| segment tso.js:41 | 5 | 55.6% |');
    expect(md).toContain('| tso.js | 6 | 66.7% |');
  });
});
