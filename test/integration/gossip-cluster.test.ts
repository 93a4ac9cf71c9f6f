/**
 * Five real gossip processes on loopback ports (127.0.0.1 only): they
 * converge, one is killed and the others remove it, it restarts from its
 * state directory and gets its old subnet back. Runs the compiled code in
 * dist/ (built by `npm test` before vitest).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const helper = fileURLToPath(new URL('../helpers/gossip-node.mjs', import.meta.url));
const built = fileURLToPath(new URL('../../dist/src/gossip/membership.js', import.meta.url));
const KEY = 'a5'.repeat(32);

interface Proc {
  name: string;
  child: ChildProcess;
  lines: Record<string, unknown>[];
  port: number;
}

const procs: Proc[] = [];
const root = mkdtempSync(join(tmpdir(), 'weft-gossip-it-'));

afterAll(() => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

function startNode(name: string, seeds: number[]): Proc {
  const child = spawn(process.execPath, [helper, name, join(root, name), KEY, ...seeds.map(String)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const p: Proc = { name, child, lines: [], port: 0 };
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      const o = JSON.parse(l) as Record<string, unknown>;
      if (o.ev === 'listening') p.port = o.port as number;
      p.lines.push(o);
    } catch {
      // not ours
    }
  });
  procs.push(p);
  return p;
}

async function waitFor(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const state = procs.map((p) => `${p.name}(pid ${p.child.pid}, exit ${p.child.exitCode}): peers ${lastLive(p).join(',')} subnet ${ownSubnet(p)}`);
  throw new Error(`timed out after ${ms} ms waiting for ${what}; ${state.join('; ')}`);
}

const lastLive = (p: Proc): string[] => {
  for (let i = p.lines.length - 1; i >= 0; i--) if (p.lines[i]!.ev === 'live') return p.lines[i]!.peers as string[];
  return [];
};
const ownSubnet = (p: Proc): string | undefined => {
  for (let i = p.lines.length - 1; i >= 0; i--) if (p.lines[i]!.ev === 'own-subnet') return p.lines[i]!.subnet as string;
  return undefined;
};

describe('gossip: five real processes on loopback', () => {
  it('converge, remove a killed node, and give it its subnet back after a restart', async () => {
    expect(existsSync(built), `${built} is missing: run \`npx tsc -p tsconfig.build.json\` (npm test does) before this test`).toBe(true);
    const first = startNode('n0', []);
    await waitFor('n0 to listen', () => first.port > 0, 10_000);
    const nodes = [first];
    for (let i = 1; i < 5; i++) nodes.push(startNode(`n${i}`, [first.port]));
    const names = nodes.map((n) => n.name);
    await waitFor('all five to see each other', () => nodes.every((n) => lastLive(n).length === 4), 20_000);
    await waitFor('five distinct subnets', () => new Set(nodes.map(ownSubnet).filter((s) => s !== undefined)).size === 5, 20_000);
    const victim = nodes[3]!;
    const oldSubnet = ownSubnet(victim)!;
    victim.child.kill('SIGKILL');
    const rest = nodes.filter((n) => n !== victim);
    await waitFor('the others to remove the killed node', () =>
      rest.every((n) => n.lines.some((l) => l.ev === 'peer-removed' && l.name === victim.name && l.reason === 'dead')), 20_000);
    await waitFor('the live lists to drop it', () => rest.every((n) => !lastLive(n).includes(victim.name)), 2_000);
    // Restart from the same state directory (same key, same lease), seeded by another node.
    const back = startNode(victim.name, [nodes[0]!.port]);
    await waitFor('the restarted node to listen', () => back.port > 0, 10_000);
    await waitFor('the restarted node to rejoin everywhere', () =>
      rest.every((n) => lastLive(n).includes(victim.name)) && lastLive(back).length === 4, 20_000);
    await waitFor('its subnet', () => ownSubnet(back) !== undefined, 10_000);
    expect(ownSubnet(back)).toBe(oldSubnet);
    expect(names).toHaveLength(5);
    for (const p of procs) p.child.kill('SIGTERM');
  }, 90_000);
});
