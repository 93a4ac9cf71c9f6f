/**
 * The cluster scripts as a user runs them: up 3 nodes, check the full
 * pod-to-pod matrix, down, and nothing is left behind. Once per backend.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

  it('with gossip over WireGuard: nodes claim subnets and find each other; a SIGKILLed node is removed, and returns with its subnet', async () => {
    const name = `ci${process.pid % 10000}g`;
    names.push(name);
    const dir = `/run/weft-cluster/${name}`;
    await run(['up', '3', '--pods', '2', '--backend', 'wireguard', '--gossip', '--name', name]);
    const state = () => JSON.parse(readFileSync(`${dir}/state.json`, 'utf8')) as { layout: { nodes: Array<{ subnet: string }> } };
    const subnets = state().layout.nodes.map((n) => n.subnet);
    expect(new Set(subnets).size).toBe(3); // three distinct claims
    const m = JSON.parse((await run(['check', '--json', '--name', name])).stdout) as { reached: number };
    expect(m.reached).toBe(30);

    const peersOf1 = async () => {
      const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'status', '--json', '--socket', `${dir}/node-1.sock`], { encoding: 'utf8' });
      return (JSON.parse(stdout) as { peers: Array<{ name: string }> }).peers.map((p) => p.name).sort();
    };
    expect(await peersOf1()).toEqual(['node-2', 'node-3']);
    await run(['stop-node', '3', '--kill', '--name', name]);
    let peers = await peersOf1();
    for (let i = 0; i < 100 && peers.includes('node-3'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      peers = await peersOf1();
    }
    expect(peers).toEqual(['node-2']); // declared dead (well inside 10 s) and withdrawn
    expect(readFileSync(`${dir}/node-1.log`, 'utf8')).toMatch(/"msg":"peer-removed","peer":"node-3".*"reason":"dead"/u);

    await run(['start-node', '3', '--name', name]);
    const ready = readFileSync(`${dir}/node-3.log`, 'utf8').split('\n').find((l) => l.includes('"msg":"ready"'))!;
    expect((JSON.parse(ready) as { subnet: string }).subnet).toBe(subnets[2]); // its lease
    let back = 0;
    for (let i = 0; i < 3 && back < 30; i++) back = (JSON.parse((await run(['check', '--json', '--name', name])).stdout) as { reached: number }).reached;
    expect(back).toBe(30);
    await run(['down', '--name', name]);
  });

  it('mixed backend: VXLAN within a location, WireGuard across, found by gossip', async () => {
    const name = `ci${process.pid % 10000}m`;
    names.push(name);
    const dir = `/run/weft-cluster/${name}`;
    await run(['up', '3', '--pods', '1', '--backend', 'mixed', '--locations', 'a,a,b', '--gossip', '--name', name]);
    const m = JSON.parse((await run(['check', '--json', '--name', name])).stdout) as { reached: number; total: number };
    expect(m.reached).toBe(6);
    expect(m.total).toBe(6);
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'status', '--json', '--socket', `${dir}/node-1.sock`], { encoding: 'utf8' });
    const peers = (JSON.parse(stdout) as { peers: Array<{ name: string; backend: string; endpoint: string }> }).peers;
    const byName = Object.fromEntries(peers.map((p) => [p.name, p]));
    expect(byName['node-2']).toMatchObject({ backend: 'vxlan', endpoint: '10.99.0.2:8472' });
    expect(byName['node-3']).toMatchObject({ backend: 'wireguard', endpoint: '10.99.0.3:51820' });
    await run(['down', '--name', name]);
  });

  it('refuses bad options with a usage message', async () => {
    await expect(run(['up', '0'])).rejects.toThrow(/N \(the number of nodes\) must be a number from 1 to 50/u);
    await expect(run(['up', '2', '--backend', 'ipip'])).rejects.toThrow(/--backend must be vxlan, wireguard or mixed/u);
    await expect(run(['check', '--name', 'nosuchcluster'])).rejects.toThrow(/no cluster "nosuchcluster" is up/u);
  });
});
