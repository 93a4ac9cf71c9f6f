/**
 * GossipControl feeding the data plane: a peer record the data plane refuses (here,
 * every one) is wire input, so it is counted among gossip's drops
 * ('peer-rejected') and never thrown. Two real gossip nodes on loopback.
 * Dual-stack nodes claim a subnet per family and hand the data plane peers
 * carrying both. A node's "I finish checksums" flag reaches its peers' data
 * planes as PeerSpec.finishesChecksums.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PeerControl, PeerSpec } from '../../../src/dataplane/peer.ts';
import { WeftError } from '../../../src/errors.ts';
import { GossipControl } from '../../../src/node/gossip-control.ts';
import { formatCidr, parseCidr } from '../../../src/wire/addr.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-gossip-control-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function options(name: string, seeds: Array<{ address: string; port: number }>) {
  return {
    name,
    address: '127.0.0.1',
    port: 0,
    seeds,
    keys: [new Uint8Array(32).fill(7)],
    stateDir: join(dir, name),
    dataPort: 8472,
    location: 'default',
    vtepMac: Uint8Array.of(2, 0, 0, 0, 0, name === 'a' ? 1 : 2),
    wgPublicKey: null,
    cluster: parseCidr('10.244.0.0/16'),
    configuredSubnet: parseCidr(name === 'a' ? '10.244.1.0/24' : '10.244.2.0/24'),
  };
}

/** A data plane that refuses every peer, as one does a record it cannot take. */
const refusing: PeerControl = {
  addPeer: (spec: PeerSpec) => {
    throw new WeftError('CONFIG_INVALID', `refused ${spec.name}`);
  },
  updatePeer: (spec: PeerSpec) => {
    throw new WeftError('CONFIG_INVALID', `refused ${spec.name}`);
  },
  removePeer: () => false,
  hasPeer: () => false,
};

describe('GossipControl', () => {
  it('counts a peer record the data plane refuses as a gossip drop, and goes on', async () => {
    const a = await GossipControl.start(options('a', []));
    const b = await GossipControl.start(options('b', [{ address: '127.0.0.1', port: a.membership.record.gossipPort }]));
    try {
      await b.claimSubnet(3000, true);
      let changes = 0;
      b.attach(refusing, () => changes++, () => {});
      // a is known to b once the map has arrived: attach applied it, and the data plane refused.
      for (let i = 0; i < 100 && b.status().drops['peer-rejected'] === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(b.status().drops['peer-rejected']).toBeGreaterThanOrEqual(1);
      expect(changes).toBeGreaterThanOrEqual(1);
    } finally {
      await b.stop();
      await a.stop();
    }
  });

  it('dual-stack: claims one subnet per family and gives the data plane peers with both', async () => {
    const dual = (name: string, seeds: Array<{ address: string; port: number }>) => ({
      ...options(`${name}6`, seeds),
      configuredSubnet: parseCidr(name === 'a' ? '10.244.1.0/24' : '10.244.2.0/24'),
      cluster6: parseCidr('fd00:10:244::/56'),
      configuredSubnet6: name === 'a' ? parseCidr('fd00:10:244:1::/64') : undefined,
    });
    const a = await GossipControl.start(dual('a', []));
    const b = await GossipControl.start(dual('b', [{ address: '127.0.0.1', port: a.membership.record.gossipPort }]));
    const specs = new Map<string, PeerSpec>();
    const recording: PeerControl = {
      addPeer: (spec: PeerSpec) => void specs.set(spec.name, spec),
      updatePeer: (spec: PeerSpec) => void specs.set(spec.name, spec),
      removePeer: (name: string) => specs.delete(name),
      hasPeer: (name: string) => specs.has(name),
    };
    try {
      const mine = await a.claimSubnet(3000, false);
      expect([formatCidr(mine.v4!), formatCidr(mine.v6!)]).toEqual(['10.244.1.0/24', 'fd00:10:244:1::/64']);
      const theirs = await b.claimSubnet(3000, true);
      expect(formatCidr(theirs.v4!)).toBe('10.244.2.0/24');
      // b's IPv6 /64 is allocated: inside the cluster, and not a's configured one.
      expect(theirs.v6!.family).toBe(6);
      expect(formatCidr(theirs.v6!)).toMatch(/^fd00:10:244:[0-9a-f]*::\/64$/);
      expect(formatCidr(theirs.v6!)).not.toBe('fd00:10:244:1::/64');
      b.attach(recording, () => {}, () => {});
      for (let i = 0; i < 100 && (specs.get('a6')?.subnets.length ?? 0) < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(specs.get('a6')!.subnets.map(formatCidr)).toEqual(['10.244.1.0/24', 'fd00:10:244:1::/64']);
      expect(b.status().drops['peer-rejected']).toBe(0);
    } finally {
      await b.stop();
      await a.stop();
    }
  });

  it('a node with TUN offloads says it finishes checksums, and its peers\' data planes learn it; one without does not', async () => {
    const a = await GossipControl.start({ ...options('ca', []), finishesChecksums: true });
    const b = await GossipControl.start({ ...options('cb', [{ address: '127.0.0.1', port: a.membership.record.gossipPort }]), finishesChecksums: false });
    const seen = (map: Map<string, PeerSpec>): PeerControl => ({
      addPeer: (spec) => void map.set(spec.name, spec),
      updatePeer: (spec) => void map.set(spec.name, spec),
      removePeer: (name) => map.delete(name),
      hasPeer: (name) => map.has(name),
    });
    const atA = new Map<string, PeerSpec>();
    const atB = new Map<string, PeerSpec>();
    try {
      await a.claimSubnet(3000, false);
      await b.claimSubnet(3000, true);
      a.attach(seen(atA), () => {}, () => {});
      b.attach(seen(atB), () => {}, () => {});
      for (let i = 0; i < 100 && !(atA.has('cb') && atB.has('ca')); i++) await new Promise((r) => setTimeout(r, 20));
      expect(atB.get('ca')!.finishesChecksums).toBe(true);
      expect(atA.get('cb')!.finishesChecksums).toBe(false);
    } finally {
      await b.stop();
      await a.stop();
    }
  });
});
