/**
 * One node on both underlay families at once (`underlay.address` "::"):
 * VXLAN to a peer configured at its IPv4 address, and a WireGuard peer
 * roaming between families: weft listens on a
 * dual-stack socket (`underlay.address` "::"), wireguard-go first reaches it
 * over IPv6, then is told weft's IPv4 address; its next packets come from
 * its own IPv4 address, and weft, authenticating them, moves the peer's
 * endpoint there (as the protocol moves it on any authenticated packet) and
 * answers over IPv4. Pods keep reaching each other throughout.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { endpointOf, ping, startWeft, twoNodes } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';
import { startWireguardGo } from '../helpers/wireguard-go.ts';
import type { WireguardGo } from '../helpers/wireguard-go.ts';

const root = requireRoot();
/** The larger overhead decides: WireGuard over IPv6 (80) on a 1500-byte underlay. */
const MTU = 1420;
const id = process.pid % 100000;
const WEFT_TUN = `wfr${id}`;
const WGGO_IF = `wgr${id}`;

describe.skipIf(!root)('WireGuard roaming between underlay families', () => {
  const sb = new NetnsSandbox();
  const weftPriv = generateKeyText();
  const goPriv = generateKeyText();
  let nodes: TwoNodes;
  let weft: WeftProcess;
  let wggo: WireguardGo;

  beforeAll(async () => {
    nodes = await twoNodes(sb, MTU);
    const { a, b } = nodes;
    // Both families on the underlay: IPv4 from twoNodes, IPv6 added here.
    await sb.run(a.ns, ['ip', 'addr', 'add', 'fd99::1/64', 'dev', 'ul0', 'nodad']);
    await sb.run(b.ns, ['ip', 'addr', 'add', 'fd99::2/64', 'dev', 'ul0', 'nodad']);
    weft = await startWeft(sb, a, [{ name: b.name, subnet: b.subnet, publicKey: publicKeyText(goPriv) }], {
      underlay: { address: '::' },
      backend: 'wireguard',
      tun: { name: WEFT_TUN },
      wireguard: { privateKey: weftPriv },
    });
    wggo = await startWireguardGo(sb, b, WGGO_IF, goPriv, { publicKey: publicKeyText(weftPriv), endpoint: '[fd99::1]:51820', allowedIps: a.subnet });
  });

  afterAll(async () => {
    await (wggo as WireguardGo | undefined)?.stop();
    await (weft as WeftProcess | undefined)?.stop();
    await sb.destroy();
    for (const name of [WEFT_TUN, WGGO_IF]) rmSync(`/var/run/wireguard/${name}.sock`, { force: true });
  });

  const weftEndpoint = async () => (await sb.run(nodes.a.ns, ['wg', 'show', WEFT_TUN, 'endpoints'])).trim().split('\t')[1];

  it('learns the peer at its IPv6 address from its first handshake', async () => {
    expect(weft.ready.mtu).toBe(MTU);
    // weft knows no endpoint: wireguard-go initiates, and weft answers where it came from.
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
    expect(await weftEndpoint()).toBe('[fd99::2]:51820');
  });

  it('follows the peer to IPv4, and pods keep reaching each other both ways', async () => {
    await sb.run(nodes.b.ns, ['wg', 'set', WGGO_IF, 'peer', publicKeyText(weftPriv), 'endpoint', `${nodes.a.underlayIp}:51820`]);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
    expect(await weftEndpoint()).toBe(`${nodes.b.underlayIp}:51820`);
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
  });

  it('and back to IPv6', async () => {
    await sb.run(nodes.b.ns, ['wg', 'set', WGGO_IF, 'peer', publicKeyText(weftPriv), 'endpoint', '[fd99::1]:51820']);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
    expect(await weftEndpoint()).toBe('[fd99::2]:51820');
  });
});

describe.skipIf(!root)('VXLAN from a dual-stack socket to an IPv4 peer', () => {
  const sb = new NetnsSandbox();
  let nodes: TwoNodes;
  const wefts: WeftProcess[] = [];

  beforeAll(async () => {
    // VXLAN's overhead over IPv6 (70) decides node-a's MTU; node-b, IPv4 only, could take 1450.
    nodes = await twoNodes(sb, 1430);
    const { a, b } = nodes;
    await sb.run(a.ns, ['ip', 'addr', 'add', 'fd99::1/64', 'dev', 'ul0', 'nodad']);
    wefts.push(await startWeft(sb, a, [{ name: b.name, endpoint: endpointOf(b, 8472), subnet: b.subnet }], { underlay: { address: '::' } }));
    wefts.push(await startWeft(sb, b, [{ name: a.name, endpoint: endpointOf(a, 8472), subnet: a.subnet }], { tun: { mtu: 1430 } }));
  });

  afterAll(async () => {
    for (const w of wefts) await w.stop();
    await sb.destroy();
  });

  it('knows the IPv4 sender by its address (source check on) and answers it over IPv4', async () => {
    expect(wefts[0]!.ready.mtu).toBe(1430);
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp, 3, 1430 - 28)).toBe(3);
  });
});
