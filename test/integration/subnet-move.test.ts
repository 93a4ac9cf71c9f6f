/**
 * A subnet that moves while the node runs: node-b claims a subnet by
 * gossip; node-a then joins configured with that very subnet, and a
 * configured claim wins the conflict (docs/ARCHITECTURE.md, ipam). node-b
 * moves to another subnet and re-addresses itself live: the device's VTEP
 * address, weft status and subnet.env, without a restart; node-a learns the
 * moved record.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../src/transport/control-client.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { startWeft, twoNodes, waitForLog } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';

const root = requireRoot();

describe.skipIf(!root)('a subnet moved by a gossip conflict', () => {
  const sb = new NetnsSandbox();
  const dir = mkdtempSync(join(tmpdir(), 'weft-subnet-move-'));
  const clusterKey = randomBytes(32).toString('base64');
  let nodes: TwoNodes;
  let a: WeftProcess;
  let b: WeftProcess;
  let claimed: string;

  beforeAll(async () => {
    nodes = await twoNodes(sb);
    b = await startWeft(sb, nodes.b, [], { subnet: undefined, stateDir: join(dir, 'b'), gossip: { seeds: [], clusterKey } });
    claimed = String(b.ready.subnet);
    // node-a is configured with the subnet node-b claimed: a configured claim wins.
    a = await startWeft(sb, nodes.a, [], { subnet: claimed, stateDir: join(dir, 'a'), gossip: { seeds: [`${nodes.b.underlayIp}:7946`], clusterKey } });
  });

  afterAll(async () => {
    await (a as WeftProcess | undefined)?.stop();
    await (b as WeftProcess | undefined)?.stop();
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('re-addresses node-b\'s device, status and subnet.env live, and node-a routes to the new subnet', async () => {
    await waitForLog(b.proc, 'subnet moved: device re-addressed', 15_000);
    const status = (await request(b.controlSocket, 'status')) as { node: { subnet: string; vtepIp: string } };
    const moved = status.node.subnet;
    expect(moved).not.toBe(claimed);
    const vtep = moved.split('/')[0]!;
    expect(status.node.vtepIp).toBe(vtep);
    const addresses = await sb.run(nodes.b.ns, ['ip', '-4', '-o', 'addr', 'show', 'dev', String(b.ready.tun)]);
    expect(addresses).toContain(`inet ${vtep}/32`);
    expect(addresses).not.toContain(`inet ${claimed.split('/')[0]}/32`);
    expect(readFileSync(b.subnetEnv, 'utf8')).toContain(`FLANNEL_SUBNET=${vtep.replace(/\.0$/u, '.1')}/24\n`);
    // node-a learns the moved record: its peer node-b now owns the new subnet.
    let peerSubnets: string[] = [];
    for (let i = 0; i < 100 && !peerSubnets.includes(moved); i++) {
      const s = (await request(a.controlSocket, 'status')) as { peers: Array<{ name: string; subnets: string[] }> };
      peerSubnets = s.peers.find((p) => p.name === 'node-b')?.subnets ?? [];
      if (!peerSubnets.includes(moved)) await new Promise((r) => setTimeout(r, 100));
    }
    expect(peerSubnets).toEqual([moved]);
  });
});
