/**
 * GossipControl feeding the data plane: a peer record the data plane refuses (here,
 * every one) is wire input, so it is counted among gossip's drops
 * ('peer-rejected') and never thrown. Two real gossip nodes on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PeerControl, PeerSpec } from '../../../src/dataplane/peer.ts';
import { WeftError } from '../../../src/errors.ts';
import { GossipControl } from '../../../src/node/gossip-control.ts';
import { parseCidr } from '../../../src/wire/addr.ts';

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
});
