/**
 * weft's WireGuard against Debian's wireguard-go over an IPv6 underlay: the
 * endpoints are IPv6 (`[fd99::2]:51820` as wg(8) writes it), so the outer
 * headers cost 80 bytes and a 1500-byte underlay leaves the 1420 that
 * wireguard-go's device uses. Dual-stack pods ping each other at full size
 * and move 20 MB over TCP both ways on each family; wg show reads the IPv6
 * endpoint and both allowed IPs from weft.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { endpointOf, ping, startWeft, twoNodes } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';
import { expectTcpIntact } from '../helpers/overlay-checks.ts';
import { startWireguardGo } from '../helpers/wireguard-go.ts';
import type { WireguardGo } from '../helpers/wireguard-go.ts';

const root = requireRoot();
const MB20 = 20 * 1024 * 1024;
/** A 1500-byte underlay less WireGuard's 80 bytes over IPv6. */
const MTU = 1420;
// wg(8)'s sockets in /var/run/wireguard are shared by every namespace: make the names unique.
const id = process.pid % 100000;
const WEFT_TUN = `wf6${id}`;
const WGGO_IF = `wg6${id}`;

describe.skipIf(!root)('WireGuard over an IPv6 underlay: weft <-> wireguard-go', () => {
  const sb = new NetnsSandbox();
  const weftPriv = generateKeyText();
  const goPriv = generateKeyText();
  let nodes: TwoNodes;
  let weft: WeftProcess;
  let wggo: WireguardGo;

  beforeAll(async () => {
    nodes = await twoNodes(sb, MTU, 6, true);
    const { a, b } = nodes;
    weft = await startWeft(sb, a, [{ name: b.name, endpoint: endpointOf(b, 51820), subnet: `${b.subnet},${b.subnet6}`, publicKey: publicKeyText(goPriv) }], {
      clusterCidr: '10.244.0.0/16,fd00:10:244::/56',
      subnet: `${a.subnet},${a.subnet6}`,
      backend: 'wireguard',
      tun: { name: WEFT_TUN },
      wireguard: { privateKey: weftPriv },
    });
    wggo = await startWireguardGo(sb, b, WGGO_IF, goPriv, { publicKey: publicKeyText(weftPriv), endpoint: endpointOf(a, 51820), allowedIps: `${a.subnet},${a.subnet6}` });
  });

  afterAll(async () => {
    // A clean exit removes each UAPI socket; whatever a failed stop leaves, the names are this run's own.
    await (wggo as WireguardGo | undefined)?.stop();
    await (weft as WeftProcess | undefined)?.stop();
    await sb.destroy();
    for (const name of [WEFT_TUN, WGGO_IF]) rmSync(`/var/run/wireguard/${name}.sock`, { force: true });
  });

  it('derives the TUN MTU from IPv6 outer headers', () => {
    expect(weft.ready.mtu).toBe(MTU);
  });

  it('pods ping each other both ways, full-size packets included', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp, 3, MTU - 28)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp, 3, MTU - 28)).toBe(3);
  });

  it('moves 20 MB over TCP from the weft pod to the wireguard-go pod, byte for byte', () => expectTcpIntact(sb, nodes.a, nodes.b, MB20));

  it('moves 20 MB over TCP from the wireguard-go pod to the weft pod, byte for byte', () => expectTcpIntact(sb, nodes.b, nodes.a, MB20, 5202));

  it('IPv6 pods ping each other at full size and move 20 MB over TCP both ways', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp6!)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp6!, 3, MTU - 48)).toBe(3);
    await expectTcpIntact(sb, nodes.a, nodes.b, MB20, 5203, nodes.b.podIp6);
    await expectTcpIntact(sb, nodes.b, nodes.a, MB20, 5204, nodes.a.podIp6);
  });

  it('wg show reads the peer\'s IPv6 endpoint from weft', async () => {
    const peer = (await sb.run(nodes.a.ns, ['wg', 'show', WEFT_TUN, 'dump'])).trim().split('\n')[1]!.split('\t');
    expect(peer[0]).toBe(publicKeyText(goPriv));
    expect(peer[2]).toBe(`[${nodes.b.underlayIp}]:51820`);
    expect(peer[3]!.split(',').sort()).toEqual([nodes.b.subnet, nodes.b.subnet6!].sort());
    expect(Number(peer[5])).toBeGreaterThan(MB20);
  });

  it('stops cleanly', async () => {
    expect(await weft.stop()).toBe(0);
  });
});
