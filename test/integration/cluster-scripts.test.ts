/**
 * The cluster scripts as a user runs them: up 3 nodes, check the full
 * pod-to-pod matrix, down, and nothing is left behind. Once per backend.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot } from '../helpers/netns.ts';
import { ROOT } from '../helpers/cluster.ts';

const root = requireRoot();
const cli = join(ROOT, 'dist/scripts/cluster/main.js');
const run = (args: string[]) => promisify(execFile)(process.execPath, [cli, ...args], { timeout: 90_000, encoding: 'utf8' });
const names: string[] = [];

afterAll(async () => {
  for (const name of names) await run(['down', '--name', name]).catch(() => {});
});

describe.skipIf(!root)('cluster scripts', () => {
  for (const backend of ['vxlan', 'wireguard']) {
    it(`up 3 nodes (${backend}), every pod reaches every pod, down leaves nothing`, async () => {
      const name = `ci${process.pid % 10000}${backend[0]}`;
      names.push(name);
      await run(['up', '3', '--pods', '2', '--backend', backend, '--name', name]);
      const { stdout } = await run(['check', '--json', '--name', name]);
      const m = JSON.parse(stdout) as { reached: number; total: number; pods: string[] };
      expect(m.pods).toEqual(['n1-p1', 'n1-p2', 'n2-p1', 'n2-p2', 'n3-p1', 'n3-p2']);
      expect(m.reached).toBe(30);
      expect(m.total).toBe(30);
      await run(['down', '--name', name]);
      const { stdout: nets } = await promisify(execFile)('ip', ['netns', 'list'], { encoding: 'utf8' });
      expect(nets.split('\n').filter((l) => l.startsWith(`${name}-`))).toEqual([]);
      expect(existsSync(`/run/weft-cluster/${name}`)).toBe(false);
    });
  }

  it('refuses bad options with a usage message', async () => {
    await expect(run(['up', '0'])).rejects.toThrow(/N \(the number of nodes\) must be a number from 1 to 50/u);
    await expect(run(['up', '2', '--backend', 'ipip'])).rejects.toThrow(/--backend must be vxlan or wireguard/u);
    await expect(run(['check', '--name', 'nosuchcluster'])).rejects.toThrow(/no cluster "nosuchcluster" is up/u);
  });
});
