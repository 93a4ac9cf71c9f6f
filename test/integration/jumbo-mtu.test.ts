/**
 * Jumbo frames: a 9000-byte underlay (the default on large clouds) carries
 * full-size packets between pods over both encapsulations. The TUN MTU is
 * derived (9000 - 50 for VXLAN, 9000 - 60 for WireGuard) and the packet
 * ring's slots are sized from the underlay (capacityFor), so a full-size
 * packet and its datagram fit one slot. Before, slots stayed 1920 bytes and
 * every full-size packet was dropped.
 */
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { peerOf, ping, sendUdp, startWeft, tcpTransfer, twoNodes, weftStatus } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';

const root = requireRoot();
const id = process.pid % 100000;
const UNDERLAY_MTU = 9000;
const MB20 = 20 * 1024 * 1024;

describe.skipIf(!root)('a 9000-byte underlay', () => {
  const sb = new NetnsSandbox();
  afterAll(() => sb.destroy());

  for (const backend of ['vxlan', 'wireguard'] as const) {
    it(`${backend}: full-size ICMP and UDP cross whole, and 20 MB of TCP byte for byte`, async () => {
      const overhead = backend === 'vxlan' ? 50 : 60;
      const podMtu = UNDERLAY_MTU - overhead;
      const nodes: TwoNodes = await twoNodes(sb, podMtu);
      const { a, b } = nodes;
      for (const n of [a, b]) {
        await sb.run(n.ns, ['ip', 'link', 'set', 'ul0', 'mtu', String(UNDERLAY_MTU)]);
        await sb.run(n.ns, ['ip', 'link', 'set', 'pod0', 'mtu', String(UNDERLAY_MTU)]);
      }
      const keys = { a: generateKeyText(), b: generateKeyText() };
      const extra = (n: typeof a, key: string, tun: string) => ({
        underlay: { address: n.underlayIp, mtu: UNDERLAY_MTU },
        tun: { name: tun },
        ...(backend === 'wireguard' ? { backend, wireguard: { privateKey: key } } : {}),
      });
      const started: WeftProcess[] = [];
      try {
        started.push(await startWeft(sb, a, [backend === 'wireguard' ? peerOf(b, keys.b) : peerOf(b)], extra(a, keys.a, `wja${id}`)));
        started.push(await startWeft(sb, b, [backend === 'wireguard' ? peerOf(a, keys.a) : peerOf(a)], extra(b, keys.b, `wjb${id}`)));
        expect(started[0]!.ready.mtu).toBe(podMtu);
        // The largest ICMP echo that fits the pod's MTU, with DF: it must cross unfragmented, both ways.
        expect(await ping(sb, a.podNs, b.podIp, 3, podMtu - 28)).toBe(3);
        expect(await ping(sb, b.podNs, a.podIp, 3, podMtu - 28)).toBe(3);
        // One full-size UDP datagram, its payload checked at the far pod.
        const rx = sb.spawn(b.podNs, [process.execPath, '-e', "const s=require('dgram').createSocket('udp4');s.on('message',(m)=>{console.log('got',m.length,require('crypto').createHash('sha256').update(m).digest('hex'));process.exit(0)});s.bind(7100,()=>console.log('listening'))"]);
        await rx.waitFor('listening', 5000);
        const payload = new Uint8Array(podMtu - 28).map((_, i) => (i * 7) & 0xff);
        await sendUdp(sb, a.podNs, b.podIp, 7100, payload);
        await rx.waitFor('got', 5000);
        expect(rx.stdout()).toContain(`got ${podMtu - 28} ${createHash('sha256').update(payload).digest('hex')}`);
        const t = await tcpTransfer(sb, a.podNs, b.podNs, b.podIp, MB20);
        expect(t.received).toEqual(t.sent);
        const s = await weftStatus(started[1]!);
        expect((s.transport as { droppedOversize: number }).droppedOversize).toBe(0);
        const drops = Object.entries(s.drops as Record<string, number>).filter(([, v]) => v > 0);
        expect(drops).toEqual([]);
      } finally {
        for (const w of started) await w.stop();
      }
    });
  }
});
