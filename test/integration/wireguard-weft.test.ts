/**
 * weft to weft over the WireGuard backend: both nodes run `weft up`; pods
 * ping each other and move 20 MB over TCP both ways, checked by sha256.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { ping, startWeft, tcpTransfer, twoNodes, weftStatus } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';

const root = requireRoot();
const MB20 = 20 * 1024 * 1024;
const id = process.pid % 100000;

describe.skipIf(!root)('WireGuard: weft <-> weft', () => {
  const sb = new NetnsSandbox();
  const keys = { a: generateKeyText(), b: generateKeyText() };
  let nodes: TwoNodes;
  let wa: WeftProcess;
  let wb: WeftProcess;

  beforeAll(async () => {
    nodes = await twoNodes(sb, 1420);
    const { a, b } = nodes;
    wa = await startWeft(sb, a, [{ name: b.name, endpoint: `${b.underlayIp}:51820`, subnet: b.subnet, publicKey: publicKeyText(keys.b) }], {
      backend: 'wireguard',
      tun: { name: `wfa${id}` },
      wireguard: { privateKey: keys.a },
    });
    // b knows a's key but not its endpoint: a must initiate, and b learns where a is from it.
    wb = await startWeft(sb, b, [{ name: a.name, subnet: a.subnet, publicKey: publicKeyText(keys.a) }], {
      backend: 'wireguard',
      tun: { name: `wfb${id}` },
      wireguard: { privateKey: keys.b },
    });
  });

  afterAll(async () => {
    await sb.destroy();
  });

  it('a peer without an endpoint learns it from the initiator; pods ping both ways', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
    const peers = (await weftStatus(wb)).peers as Array<{ endpoint: string }>;
    expect(peers[0]!.endpoint).toBe(`${nodes.a.underlayIp}:51820`);
  });

  it('moves 20 MB over TCP each way, byte for byte', async () => {
    const ab = await tcpTransfer(sb, nodes.a.podNs, nodes.b.podNs, nodes.b.podIp, MB20);
    expect(ab.received).toEqual(ab.sent);
    const ba = await tcpTransfer(sb, nodes.b.podNs, nodes.a.podNs, nodes.a.podIp, MB20, 5202);
    expect(ba.received).toEqual(ba.sent);
    expect(ba.received.bytes).toBe(MB20);
  });

  it('counts one completed handshake on each side and no drops', async () => {
    const sa = await weftStatus(wa);
    const sb2 = await weftStatus(wb);
    expect((sa.handshakes as { completed: number }).completed).toBe(1);
    expect((sb2.handshakes as { completed: number }).completed).toBe(1);
    for (const s of [sa, sb2]) {
      const drops = Object.entries(s.drops as Record<string, number>).filter(([, n]) => n > 0);
      expect(drops).toEqual([]);
    }
  });

  it('both stop cleanly', async () => {
    expect(await wa.stop()).toBe(0);
    expect(await wb.stop()).toBe(0);
  });
});
