/**
 * Both backends over the native batch transport (recvmmsg/sendmmsg): weft
 * to weft, ping and 20 MB over TCP each way, byte for byte, and the status
 * shows the sends really went out in batches.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { ping, startWeft, twoNodes, weftStatus } from '../helpers/cluster.ts';
import { expectTcpIntact } from '../helpers/overlay-checks.ts';

const root = requireRoot();
const MB20 = 20 * 1024 * 1024;
const id = process.pid % 100000;

describe.skipIf(!root)('the batch transport carries both backends', () => {
  const sandboxes: NetnsSandbox[] = [];
  afterAll(async () => {
    for (const sb of sandboxes) await sb.destroy();
  });

  for (const backend of ['vxlan', 'wireguard'] as const) {
    it(`${backend}: ping and 20 MB each way, sent in batches`, async () => {
      const sb = new NetnsSandbox();
      sandboxes.push(sb);
      const nodes = await twoNodes(sb, backend === 'vxlan' ? 1450 : 1420);
      const { a, b } = nodes;
      const keys = [generateKeyText(), generateKeyText()] as const;
      const port = backend === 'vxlan' ? 8472 : 51820;
      const extra = (i: number) =>
        backend === 'vxlan' ? { transport: 'batch' } : { transport: 'batch', backend, tun: { name: `wbt${id}${i}` }, wireguard: { privateKey: keys[i] } };
      const peer = (n: typeof a, i: number) => ({ name: n.name, endpoint: `${n.underlayIp}:${port}`, subnet: n.subnet, ...(backend === 'wireguard' ? { publicKey: publicKeyText(keys[i]!) } : {}) });
      const wa = await startWeft(sb, a, [peer(b, 1)], extra(0));
      const wb = await startWeft(sb, b, [peer(a, 0)], extra(1));
      expect(wa.ready.transport).toBe('batch');
      expect(await ping(sb, a.podNs, b.podIp)).toBe(3);
      await expectTcpIntact(sb, a, b, MB20);
      await expectTcpIntact(sb, b, a, MB20, 5202);
      const t = (await weftStatus(wa)).transport as { sentPackets: number; receivedPackets: number; sendBatches: number };
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
