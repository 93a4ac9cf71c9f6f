/**
 * `weft forget`: three real `weft up` nodes joined by gossip alone (each in
 * its namespace, with a pod). node-b dies and is reinstalled with a new key
 * (an empty state directory): the others refuse it (key-mismatch) while its
 * former self's tombstone lasts. `weft forget node-b` on node-a ends it
 * there and, by gossip, on node-c; the new node-b joins everywhere and pods
 * reach each other. Refusals (a live node, an unknown name) exit 1 with a
 * message that says what to do. Every wait is bounded; nothing sleeps.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { weftMain } from '../helpers/cluster.ts';
import { bridgedNodes, describeCluster, gossipView, podMatrix, routesToAll, startGossipNode, stateDirOf, waitUntil } from '../helpers/gossip-weft.ts';
import type { GossipNode } from '../helpers/gossip-weft.ts';

const root = requireRoot();

/** `weft forget` as an operator runs it; never rejects: exit code and output. */
async function weftForget(node: GossipNode, target: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [weftMain(), 'forget', target, '--socket', node.weft!.controlSocket], { encoding: 'utf8', timeout: 10_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe.skipIf(!root)('weft forget: a node reinstalled with a new key rejoins at once', () => {
  const sb = new NetnsSandbox();
  const dir = mkdtempSync(join(tmpdir(), 'weft-forget-'));
  const clusterKey = randomBytes(32).toString('base64');
  let nodes: GossipNode[] = [];

  beforeAll(async () => {
    nodes = await bridgedNodes(sb, 3);
    const [a, b, c] = nodes as [GossipNode, GossipNode, GossipNode];
    await startGossipNode(sb, a, { clusterKey, seeds: [], stateDir: stateDirOf(dir, a) });
    await startGossipNode(sb, b, { clusterKey, seeds: [a], stateDir: stateDirOf(dir, b) });
    await startGossipNode(sb, c, { clusterKey, seeds: [a], stateDir: stateDirOf(dir, c) });
  }, 60_000);

  afterAll(async () => {
    for (const n of nodes) await n.weft?.stop();
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('node-b dies, is reinstalled with a new key, and joins once node-a forgets it; pods reach each other', async () => {
    const [a, b, c] = nodes as [GossipNode, GossipNode, GossipNode];
    const explain = () => describeCluster(nodes);
    const allRoutes = async () => (await Promise.all(nodes.map((n) => routesToAll(n, nodes)))).every(Boolean);
    await waitUntil('every node to route to every other', allRoutes, 20_000, explain);
    expect(await podMatrix(sb, nodes)).toEqual([]);

    // Refusals: a live node, an unknown name. Nothing changes.
    const alive = await weftForget(a, 'node-c');
    expect(alive.code).toBe(1);
    expect(alive.stderr).toContain('node-c is alive: forget only ends the tombstone of a dead or departed node; stop node-c first');
    const unknown = await weftForget(a, 'node-zz');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no node named "node-zz" is known here');
    const after = (await gossipView(a)).members;
    expect({ live: after.alive + after.suspect, dead: after.dead, left: after.left }).toEqual({ live: 3, dead: 0, left: 0 });

    // node-b dies (no goodbye) and is declared dead.
    await b.weft!.proc.kill();
    await b.weft!.stop();
    delete b.weft;
    const survivors = [a, c];
    await waitUntil('node-a and node-c to declare node-b dead', async () =>
      (await Promise.all(survivors.map(gossipView))).every((v) => v.members.dead === 1 && !v.peers.some((p) => p.name === 'node-b')), 20_000, explain);

    // Reinstalled: an empty state directory, so a new gossip key. The tombstone refuses it.
    const oldKeyMismatch = (await gossipView(a)).drops['key-mismatch'] ?? 0;
    await startGossipNode(sb, b, { clusterKey, seeds: [a], stateDir: stateDirOf(dir, b, 1) });
    await waitUntil('node-a to refuse the new node-b (key-mismatch)', async () => ((await gossipView(a)).drops['key-mismatch'] ?? 0) > oldKeyMismatch, 15_000, explain);
    for (const s of survivors) {
      const v = await gossipView(s);
      expect(v.members.dead, s.name).toBe(1);
      expect(v.peers.map((p) => p.name), s.name).not.toContain('node-b');
    }

    // The operator forgets node-b on node-a only; gossip takes it to node-c.
    const forgotAt = Date.now();
    const done = await weftForget(a, 'node-b');
    expect(done).toEqual({ code: 0, stdout: 'forgot node-b: its tombstone is gone here, and gossip tells the other nodes; it may rejoin with a new key\n', stderr: '' });
    const took = await waitUntil('the new node-b to join everywhere, with routes to its new subnet', allRoutes, 15_000, explain);
    await waitUntil('every node holding all three alive, none dead', async () =>
      (await Promise.all(nodes.map(gossipView))).every((v) => v.members.alive === 3 && v.members.suspect === 0 && v.members.dead === 0 && v.members.left === 0), 10_000, explain);
    expect(await podMatrix(sb, nodes)).toEqual([]);
    // Forgetting it again: it is alive now.
    expect((await weftForget(c, 'node-b')).stderr).toContain('node-b is alive');
    console.log(`weft forget: the reinstalled node-b routed everywhere ${took} ms after the forget (${Date.now() - forgotAt} ms with the checks)`);
  }, 120_000);
});
