/**
 * A gossip cluster across underlay families: node-1 on IPv4 only, node-2 on
 * both (a dual underlay), node-3 on IPv6 only; node-2 seeds node-3 over
 * IPv6, node-1 seeds node-2 over IPv4. node-2 reaches node-1 at its IPv4
 * address and node-3 at its IPv6 one, and each of them reaches node-2 in its
 * own family, so pods reach each other wherever an underlay path exists.
 * node-1 and node-3 share no family: no direct path. Each lists the other
 * as unreachable in its status, and its pods' packets toward the other are
 * counted as no_route drops, not sent into a socket that cannot carry them.
 * Over VXLAN and over WireGuard, through the cluster script.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot } from '../helpers/netns.ts';
import { ROOT } from '../helpers/cluster.ts';

const root = requireRoot();
const cli = join(ROOT, 'dist/scripts/cluster/main.js');
const run = (args: string[]) => promisify(execFile)(process.execPath, [cli, ...args], { timeout: 90_000, encoding: 'utf8' });
const names: string[] = [];

interface Status {
  peers: Array<{ name: string; endpoint: string }>;
  drops: Record<string, number>;
  node: { mtu: number; underlay: string; underlaySecond?: string };
  gossip: { unreachable: Record<string, string>; members: { alive: number } };
}

async function status(name: string, node: number): Promise<Status> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'status', '--json', '--socket', `/run/weft-cluster/${name}/node-${node}.sock`], { encoding: 'utf8' });
  return JSON.parse(stdout) as Status;
}

afterAll(async () => {
  for (const name of names) await run(['down', '--name', name]).catch(() => {});
});

describe.skipIf(!root)('gossip across underlay families (IPv4 only, both, IPv6 only)', () => {
  for (const backend of ['vxlan', 'wireguard'] as const) {
    it(`${backend}: pods reach each other where an underlay path exists; the pair without one is reported, not blackholed`, async () => {
      const name = `mu${process.pid % 10000}${backend[0]}`;
      names.push(name);
      await run(['up', '3', '--pods', '1', '--backend', backend, '--gossip', '--underlays', '4,46,6', '--name', name]);
      const port = backend === 'vxlan' ? 8472 : 51820;
      // node-3 joined last, through node-2: node-1 hears of it by gossip, a moment after up returns.
      const all = async () => [await status(name, 1), await status(name, 2), await status(name, 3)] as const;
      let [one, two, three] = await all();
      for (let i = 0; i < 100 && (one.gossip.unreachable['node-3'] === undefined || two.peers.length < 2); i++) {
        await new Promise((r) => setTimeout(r, 100));
        [one, two, three] = await all();
      }
      expect([two.node.underlay, two.node.underlaySecond]).toEqual([`10.99.0.2:${port}`, `[fd99::2]:${port}`]);
      // Each reaches node-2 in its own family; node-2 reaches each in theirs.
      expect(one.peers.map((p) => [p.name, p.endpoint])).toEqual([['node-2', `10.99.0.2:${port}`]]);
      expect(three.peers.map((p) => [p.name, p.endpoint])).toEqual([['node-2', `[fd99::2]:${port}`]]);
      expect(two.peers.map((p) => [p.name, p.endpoint]).sort()).toEqual([['node-1', `10.99.0.1:${port}`], ['node-3', `[fd99::3]:${port}`]]);
      expect(one.gossip.unreachable).toEqual({ 'node-3': 'fd99::3' });
      expect(three.gossip.unreachable).toEqual({ 'node-1': '10.99.0.1' });
      expect(two.gossip.unreachable).toEqual({});
      // The TUN MTU: IPv4's overhead on the IPv4-only node, IPv6's wherever IPv6 may be sent.
      const overhead4 = backend === 'vxlan' ? 50 : 60;
      expect([one.node.mtu, two.node.mtu, three.node.mtu]).toEqual([1500 - overhead4, 1480 - overhead4, 1480 - overhead4]);

      const noRouteBefore = one.drops.no_route ?? 0;
      // check exits 1 when a pair fails, as two must here; its matrix is on stdout either way.
      const checked = await run(['check', '--json', '--name', name]).catch((err: { code?: number; stdout?: string }) => {
        if (err.code !== 1 || err.stdout === undefined) throw err;
        return { stdout: err.stdout };
      });
      const m = JSON.parse(checked.stdout) as { pods: string[]; ok: boolean[][]; reached: number; total: number };
      expect(m.pods).toEqual(['n1-p1', 'n2-p1', 'n3-p1']);
      // Every pair but node-1's and node-3's pods, in both directions.
      expect(m.ok).toEqual([
        [true, true, false],
        [true, true, true],
        [false, true, true],
      ]);
      expect(m.reached).toBe(4);
      // The pings toward node-3's pod were counted where they stopped, on node-1.
      expect((await status(name, 1)).drops.no_route).toBeGreaterThan(noRouteBefore);
      expect((await status(name, 3)).drops.no_route).toBeGreaterThan(three.drops.no_route ?? 0);
      for (const n of [1, 2, 3]) expect((await status(name, n)).gossip.members.alive).toBe(3);
      await run(['down', '--name', name]);
      const { stdout: nets } = await promisify(execFile)('ip', ['netns', 'list'], { encoding: 'utf8' });
      expect(nets.split('\n').filter((l) => l.startsWith(`${name}-`))).toEqual([]);
    });
  }
});
