/**
 * Gossip nodes across underlay families, on loopback: a on IPv4 only, b and
 * d on both (sockets on '::', both addresses in their records; d lists IPv6
 * first), c on IPv6 only. All join through b. b and d agree on IPv6. Each hands its data plane b at the
 * address of a family it has; a and c share none, so neither hands the other
 * to its data plane, and each lists the other as unreachable, while both
 * stay members (learnt through b).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PeerControl, PeerSpec } from '../../../src/dataplane/peer.ts';
import { GossipControl } from '../../../src/node/gossip-control.ts';
import { parseCidr } from '../../../src/wire/addr.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-gossip-underlay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function options(name: string, addresses: string[], seeds: Array<{ address: string; port: number }>, subnet: string) {
  return {
    name,
    address: addresses[0]!,
    addresses,
    port: 0,
    seeds,
    keys: [new Uint8Array(32).fill(3)],
    stateDir: join(dir, name),
    dataPort: 8472,
    location: 'default',
    vtepMac: Uint8Array.of(2, 0, 0, 0, 0, name.charCodeAt(0)),
    wgPublicKey: null,
    cluster: parseCidr('10.244.0.0/16'),
    configuredSubnet: parseCidr(subnet),
  };
}

function recorder(): { control: PeerControl; specs: Map<string, PeerSpec> } {
  const specs = new Map<string, PeerSpec>();
  return {
    specs,
    control: {
      addPeer: (spec) => void specs.set(spec.name, spec),
      updatePeer: (spec) => void specs.set(spec.name, spec),
      removePeer: (name) => specs.delete(name),
      hasPeer: (name) => specs.has(name),
    },
  };
}

async function until(what: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!done()) throw new Error(`not reached: ${what}`);
}

describe('gossip across underlay families', () => {
  it('each node reaches a dual-underlay node in its own family; nodes with no common family are reported unreachable', async () => {
    const nodes: GossipControl[] = [];
    try {
      const b = await GossipControl.start(options('b', ['127.0.0.1', '::1'], [], '10.244.2.0/24'));
      nodes.push(b);
      const bPort = b.membership.record.gossipPort;
      // b's own record carries both addresses.
      expect([b.membership.record.address, b.membership.record.address6]).toEqual(['127.0.0.1', '::1']);
      const a = await GossipControl.start(options('a', ['127.0.0.1'], [{ address: '127.0.0.1', port: bPort }], '10.244.1.0/24'));
      nodes.push(a);
      const c = await GossipControl.start(options('c', ['::1'], [{ address: '::1', port: bPort }], '10.244.3.0/24'));
      nodes.push(c);
      // d is on both too, listed the other way round, and joins through b's IPv4 address.
      const d = await GossipControl.start(options('d', ['::1', '127.0.0.1'], [{ address: '127.0.0.1', port: bPort }], '10.244.4.0/24'));
      nodes.push(d);
      await b.claimSubnet(0, false);
      await a.claimSubnet(3000, true);
      await c.claimSubnet(3000, true);
      await d.claimSubnet(3000, true);
      const seen = { a: recorder(), b: recorder(), c: recorder(), d: recorder() };
      a.attach(seen.a.control, () => {}, () => {});
      b.attach(seen.b.control, () => {}, () => {});
      c.attach(seen.c.control, () => {}, () => {});
      d.attach(seen.d.control, () => {}, () => {});
      await until('b knows a, c and d', () => seen.b.specs.size === 3);
      await until('d knows a, b and c', () => seen.d.specs.size === 3);
      // Two dual-underlay nodes agree on IPv6, whatever order each lists its addresses in.
      expect(seen.b.specs.get('d')?.endpoint).toEqual({ address: '::1', port: 8472 });
      expect(seen.d.specs.get('b')?.endpoint).toEqual({ address: '::1', port: 8472 });
      expect(seen.d.specs.get('a')?.endpoint).toEqual({ address: '127.0.0.1', port: 8472 });
      expect(seen.d.specs.get('c')?.endpoint).toEqual({ address: '::1', port: 8472 });
      await until('a and c know each other', () => a.status().unreachable.c !== undefined && c.status().unreachable.a !== undefined);
      expect(seen.a.specs.get('b')?.endpoint).toEqual({ address: '127.0.0.1', port: 8472 });
      expect(seen.c.specs.get('b')?.endpoint).toEqual({ address: '::1', port: 8472 });
      expect(seen.b.specs.get('a')?.endpoint).toEqual({ address: '127.0.0.1', port: 8472 });
      expect(seen.b.specs.get('c')?.endpoint).toEqual({ address: '::1', port: 8472 });
      await until('a and c know d', () => seen.a.specs.size === 2 && seen.c.specs.size === 2);
      expect(seen.a.specs.get('d')?.endpoint).toEqual({ address: '127.0.0.1', port: 8472 });
      expect(seen.c.specs.get('d')?.endpoint).toEqual({ address: '::1', port: 8472 });
      expect([...seen.a.specs.keys()].sort()).toEqual(['b', 'd']);
      expect([...seen.c.specs.keys()].sort()).toEqual(['b', 'd']);
      expect(a.status().unreachable).toEqual({ c: '::1' });
      expect(c.status().unreachable).toEqual({ a: '127.0.0.1' });
      expect(b.status().unreachable).toEqual({});
      expect(d.status().unreachable).toEqual({});
      // All four are members everywhere: a and c learnt of each other through the others.
      for (const n of nodes) expect(n.status().members.alive).toBe(4);
    } finally {
      for (const n of nodes.reverse()) await n.stop();
    }
  });
});
