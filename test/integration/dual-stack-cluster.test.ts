/**
 * Dual-stack pods on an IPv6-only underlay, found by gossip alone: three
 * nodes join over IPv6, each claims an IPv4 /24 and an IPv6 /64, and every
 * pod reaches every other pod on both families, over VXLAN and over
 * WireGuard; the peers weft lists carry IPv6 endpoints and both subnets.
 * And without gossip, from static peer lists with a subnet per family.
 * Run through the cluster script, as a user would.
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

describe.skipIf(!root)('dual-stack pods on an IPv6 underlay, by gossip', () => {
  for (const backend of ['vxlan', 'wireguard'] as const) {
    it(`${backend}: every pod reaches every pod on both families; peers are IPv6 endpoints with a subnet per family`, async () => {
      const name = `ds${process.pid % 10000}${backend[0]}`;
      names.push(name);
      await run(['up', '3', '--pods', '1', '--backend', backend, '--gossip', '--dual-stack', '--ipv6-underlay', '--name', name]);
      const m = JSON.parse((await run(['check', '--json', '--name', name])).stdout) as { reached: number; total: number; pods: string[] };
      expect(m.pods).toEqual(['n1-p1', 'n1-p1/6', 'n2-p1', 'n2-p1/6', 'n3-p1', 'n3-p1/6']);
      // Each pod to each other pod's two addresses, from both of its own: 3 x 2 x 2 x 2.
      expect(m.total).toBe(24);
      expect(m.reached).toBe(24);
      const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'status', '--json', '--socket', `/run/weft-cluster/${name}/node-1.sock`], { encoding: 'utf8' });
      const peers = (JSON.parse(stdout) as { peers: Array<{ name: string; endpoint: string; subnets: string[] }> }).peers;
      const port = backend === 'vxlan' ? 8472 : 51820;
      expect(peers.map((p) => p.endpoint).sort()).toEqual([`[fd99::2]:${port}`, `[fd99::3]:${port}`]);
      for (const p of peers) {
        expect(p.subnets.map((s) => (s.includes(':') ? 6 : 4)).sort()).toEqual([4, 6]);
        expect(p.subnets.find((s) => s.includes(':'))).toMatch(/^fd00:10:244:[0-9a-f]*::\/64$/u);
      }
      await run(['down', '--name', name]);
      const { stdout: nets } = await promisify(execFile)('ip', ['netns', 'list'], { encoding: 'utf8' });
      expect(nets.split('\n').filter((l) => l.startsWith(`${name}-`))).toEqual([]);
      expect(existsSync(`/run/weft-cluster/${name}`)).toBe(false);
    });
  }

  it('static peer lists carry both families too: mixed encapsulations, IPv4 underlay, no gossip', async () => {
    const name = `ds${process.pid % 10000}s`;
    names.push(name);
    await run(['up', '3', '--pods', '1', '--backend', 'mixed', '--locations', 'a,a,b', '--dual-stack', '--name', name]);
    const m = JSON.parse((await run(['check', '--json', '--name', name])).stdout) as { reached: number; total: number };
    expect(m.total).toBe(24);
    expect(m.reached).toBe(24);
    await run(['down', '--name', name]);
  });
});
