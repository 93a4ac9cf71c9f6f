/**
 * Rotating the gossip cluster key (`gossip.oldKeys`) across a rolling
 * restart of three real `weft up` nodes, each in its namespace with a pod,
 * joined by gossip alone: all start with K1; each in turn restarts with K2
 * and oldKeys [K1]; then each in turn with K2 only. After every restart
 * every node sees every other alive, routes to its subnet and every pod
 * pings every pod; no node is ever declared dead (the restarting one leaves
 * gracefully), and each node keeps its subnet. Every wait is bounded.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { bridgedNodes, describeCluster, gossipView, logLines, podMatrix, routesToAll, startGossipNode, stateDirOf, waitUntil } from '../helpers/gossip-weft.ts';
import type { GossipNode } from '../helpers/gossip-weft.ts';

const root = requireRoot();

describe.skipIf(!root)('gossip key rotation across a rolling restart', () => {
  const sb = new NetnsSandbox();
  const dir = mkdtempSync(join(tmpdir(), 'weft-key-rotation-'));
  const k1 = randomBytes(32).toString('base64');
  const k2 = randomBytes(32).toString('base64');
  let nodes: GossipNode[] = [];
  /** Every "peer-removed" a node logged as dead, over all its runs. */
  const deaths: string[] = [];
  const collectDeaths = (n: GossipNode): void => {
    for (const e of logLines(n.weft!, 'peer-removed')) if (e.reason === 'dead') deaths.push(`${n.name} declared ${String(e.peer)} dead`);
  };

  beforeAll(async () => {
    nodes = await bridgedNodes(sb, 3);
    const [a, b, c] = nodes as [GossipNode, GossipNode, GossipNode];
    await startGossipNode(sb, a, { clusterKey: k1, seeds: [], stateDir: stateDirOf(dir, a) });
    await startGossipNode(sb, b, { clusterKey: k1, seeds: [a], stateDir: stateDirOf(dir, b) });
    await startGossipNode(sb, c, { clusterKey: k1, seeds: [a], stateDir: stateDirOf(dir, c) });
  }, 60_000);

  afterAll(async () => {
    for (const n of nodes) await n.weft?.stop();
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('K1, then K2 with oldKeys [K1], then K2 alone, one node at a time: never split, pods reach each other at every step', async () => {
    const explain = () => describeCluster(nodes);
    const whole = async (step: string): Promise<void> => {
      await waitUntil(`${step}: every node routing to every other`, async () => (await Promise.all(nodes.map((n) => routesToAll(n, nodes)))).every(Boolean), 20_000, explain);
      await waitUntil(`${step}: every node holding all three alive, none suspected`, async () =>
        (await Promise.all(nodes.map(gossipView))).every((v) => v.members.alive === 3 && v.members.suspect === 0 && v.members.dead === 0), 10_000, explain);
      expect(await podMatrix(sb, nodes), step).toEqual([]);
      expect(deaths, step).toEqual([]);
    };
    await whole('all on K1');
    const subnets = nodes.map((n) => n.subnet);
    const phases = [
      { label: 'K2 with oldKeys [K1]', clusterKey: k2, oldKeys: [k1] },
      { label: 'K2 alone', clusterKey: k2 },
    ];
    for (const phase of phases) {
      for (const n of nodes) {
        collectDeaths(n);
        await n.weft!.stop();
        delete n.weft;
        const keys = phase.oldKeys === undefined ? { clusterKey: phase.clusterKey } : { clusterKey: phase.clusterKey, oldKeys: phase.oldKeys };
        await startGossipNode(sb, n, { ...keys, seeds: nodes.filter((o) => o !== n), stateDir: stateDirOf(dir, n) });
        await whole(`${n.name} restarted on ${phase.label}`);
      }
    }
    for (const n of nodes) collectDeaths(n);
    expect(deaths).toEqual([]);
    expect(nodes.map((n) => n.subnet)).toEqual(subnets);
  }, 240_000);
});
