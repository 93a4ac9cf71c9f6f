/**
 * Both backends over the native batch transport (recvmmsg/sendmmsg): weft
 * to weft over an IPv4 underlay (plain batches) and an IPv6 one (with UDP
 * GSO and GRO, the defaults), ping and 20 MB over TCP each way, byte for
 * byte, and the status shows the sends really went out in batches.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { endpointOf, ping, startWeft, twoNodes, weftStatus } from '../helpers/cluster.ts';
import { expectTcpIntact } from '../helpers/overlay-checks.ts';

const root = requireRoot();
const MB20 = 20 * 1024 * 1024;
const id = process.pid % 100000;

describe.skipIf(!root)('the batch transport carries both backends', () => {
  const sandboxes: NetnsSandbox[] = [];
  afterAll(async () => {
    for (const sb of sandboxes) await sb.destroy();
  });

  for (const [backend, underlay] of [['vxlan', 4], ['wireguard', 4], ['vxlan', 6], ['wireguard', 6]] as const) {
    it(`${backend} over IPv${underlay}: ping and 20 MB each way, sent in batches`, async () => {
      const sb = new NetnsSandbox();
      sandboxes.push(sb);
      // A 1500-byte underlay less the overhead: VXLAN 50 and WireGuard 60 over IPv4, 70 and 80 over IPv6.
      const overhead = (backend === 'vxlan' ? 50 : 60) + (underlay === 6 ? 20 : 0);
      const nodes = await twoNodes(sb, 1500 - overhead, underlay);
      const { a, b } = nodes;
      const keys = [generateKeyText(), generateKeyText()] as const;
      const port = backend === 'vxlan' ? 8472 : 51820;
      // IPv4 keeps the plain batch path (no GSO/GRO) covered, as this test always did; the
      // defaults (batch with both offloads) run on IPv4 everywhere else. IPv6 runs the defaults.
      const transport = underlay === 4 ? 'batch' : { type: 'batch', gso: true, gro: true };
      const extra = (i: number) =>
        backend === 'vxlan' ? { transport } : { transport, backend, tun: { name: `wbt${id}${underlay}${i}` }, wireguard: { privateKey: keys[i] } };
      const peer = (n: typeof a, i: number) => ({ name: n.name, endpoint: endpointOf(n, port), subnet: n.subnet, ...(backend === 'wireguard' ? { publicKey: publicKeyText(keys[i]!) } : {}) });
      const wa = await startWeft(sb, a, [peer(b, 1)], extra(0));
      const wb = await startWeft(sb, b, [peer(a, 0)], extra(1));
      expect(wa.ready.transport).toBe('batch');
      expect(await ping(sb, a.podNs, b.podIp)).toBe(3);
      await expectTcpIntact(sb, a, b, MB20);
      await expectTcpIntact(sb, b, a, MB20, 5202);
      const t = (await weftStatus(wa)).transport as { sentPackets: number; receivedPackets: number; sendBatches: number; gso: boolean; gro: boolean };
      expect([t.gso, t.gro]).toEqual([underlay === 6, underlay === 6]);
      expect(t.sentPackets).toBeGreaterThan(10_000);
      expect(t.receivedPackets).toBeGreaterThan(10_000);
      // More than one datagram per sendmmsg on average: the batching is real.
      expect(t.sendBatches).toBeGreaterThan(0);
      expect(t.sentPackets / t.sendBatches).toBeGreaterThan(1);
      expect(await wa.stop()).toBe(0);
      expect(await wb.stop()).toBe(0);
    });
  }
});
