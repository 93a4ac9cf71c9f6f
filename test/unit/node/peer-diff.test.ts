import { describe, expect, it } from 'vitest';
import type { PeerControl, PeerSpec } from '../../../src/dataplane/peer.ts';
import { applyPeerDiff, diffPeers } from '../../../src/node/peer-diff.ts';
import { parseCidr } from '../../../src/wire/addr.ts';

const peer = (name: string, address: string, subnet: string): PeerSpec => ({
  name,
  endpoint: { address, port: 8472 },
  subnets: [parseCidr(subnet)],
  vtepMac: new Uint8Array([0x0e, 0, 0, 0, 0, name.charCodeAt(0)]),
});

describe('diffPeers', () => {
  it('finds added, changed and removed peers', () => {
    const before = [peer('a', '192.0.2.1', '10.244.1.0/24'), peer('b', '192.0.2.2', '10.244.2.0/24'), peer('c', '192.0.2.3', '10.244.3.0/24')];
    const after = [peer('a', '192.0.2.1', '10.244.1.0/24'), peer('b', '192.0.2.22', '10.244.2.0/24'), peer('d', '192.0.2.4', '10.244.4.0/24')];
    const d = diffPeers(before, after);
    expect(d.added.map((p) => p.name)).toEqual(['d']);
    expect(d.changed.map((p) => p.name)).toEqual(['b']);
    expect(d.removed).toEqual(['c']);
    expect(diffPeers(after, after)).toEqual({ added: [], changed: [], removed: [] });
  });

  it('applies removals first and keeps going past a failed step', () => {
    const calls: string[] = [];
    const dataplane: PeerControl = {
      addPeer: (p: PeerSpec) => {
        if (p.name === 'bad') throw new Error('bad peer');
        calls.push(`add ${p.name}`);
      },
      updatePeer: (p: PeerSpec) => void calls.push(`update ${p.name}`),
      removePeer: (n: string) => (calls.push(`remove ${n}`), true),
      hasPeer: () => false,
    };
    const result = applyPeerDiff(dataplane, { added: [peer('bad', '192.0.2.9', '10.244.9.0/24'), peer('x', '192.0.2.8', '10.244.8.0/24')], changed: [peer('b', '192.0.2.2', '10.244.2.0/24')], removed: ['c'] });
    expect(calls).toEqual(['remove c', 'update b', 'add x']);
    expect(result.applied).toBe(3);
    expect(result.failed).toEqual([{ peer: 'bad', op: 'add', error: 'bad peer' }]);
  });
});
