/**
 * A packet too big for the underlay, as a router answers it: node a's device
 * MTU is raised by hand past what the 1500-byte underlay carries after
 * VXLAN's 50 bytes, and a pod sends a 1500-byte ping with DF. weft must not
 * let it vanish: it answers ICMP "fragmentation needed" with the next-hop
 * MTU (1450), the pod's kernel learns the path MTU from it, and status and
 * metrics count the packet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { peerOf, ping, startWeft, twoNodes, weftStatus } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';

const root = requireRoot();
const id = process.pid % 100000;

describe.skipIf(!root)('packets too big for the underlay', () => {
  const sb = new NetnsSandbox();
  let nodes: TwoNodes;
  let wa: WeftProcess;
  let wb: WeftProcess;

  beforeAll(async () => {
    nodes = await twoNodes(sb);
    const { a, b } = nodes;
    wa = await startWeft(sb, a, [peerOf(b)], { tun: { name: `wtb${id}` } });
    wb = await startWeft(sb, b, [peerOf(a)], { tun: { name: `wtc${id}` } });
  });

  afterAll(async () => {
    await wa?.stop();
    await wb?.stop();
    await sb.destroy();
  });

  it('answers ICMP fragmentation needed (mtu 1450) to the pod, which then sends what fits; status counts it', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
    // An operator raises the device and pod MTUs past what the underlay carries.
    await sb.run(nodes.a.ns, ['ip', 'link', 'set', `wtb${id}`, 'mtu', '1500']);
    await sb.run(nodes.a.podNs, ['ip', 'link', 'set', 'eth0', 'mtu', '1500']);
    const big = await sb.exec(nodes.a.podNs, ['ping', '-M', 'do', '-c', '2', '-i', '0.2', '-W', '1', '-s', '1472', nodes.b.podIp], { timeoutMs: 10_000 });
    const said = big.stdout + big.stderr;
    expect(said).toMatch(/mtu = 1450|mtu=1450/u);
    // The pod's kernel now knows the path MTU toward b's pod.
    const route = await sb.run(nodes.a.podNs, ['ip', 'route', 'get', nodes.b.podIp]);
    expect(route).toMatch(/mtu 1450/u);
    // What fits still crosses.
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp, 3, 1422)).toBe(3);
    const status = await weftStatus(wa);
    expect((status.drops as Record<string, number>).too_big).toBeGreaterThanOrEqual(1);
    expect((status.router as { tooBigAnswered: number }).tooBigAnswered).toBeGreaterThanOrEqual(1);
    expect(status.kernelDrops).toEqual({ data: 0 });
  });
});
