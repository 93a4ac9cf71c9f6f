/**
 * Turn two peer lists into the data plane's add / change / remove calls.
 * A static peer file (on start and on SIGHUP) hands over whole lists; the
 * data plane wants events (gossip delivers events already:
 * gossip-control.ts). Applied in order (removals first, so a
 * subnet or address moving between peers is free before it is claimed), and
 * a step that fails is reported and skipped rather than stopping the rest.
 */
import type { PeerControl, PeerSpec } from '../dataplane/peer.ts';
import { formatCidr } from '../wire/addr.ts';

export interface PeerDiff {
  added: PeerSpec[];
  changed: PeerSpec[];
  removed: string[];
}

/** A comparable text form of everything the data plane uses from a peer. */
function fingerprint(p: PeerSpec): string {
  const bytes = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : '');
  const ep = p.endpoint ? `${p.endpoint.address}|${p.endpoint.port}` : '-';
  return `${ep}|${p.subnets.map(formatCidr).join(',')}|${bytes(p.vtepMac)}|${bytes(p.publicKey)}|${bytes(p.presharedKey)}|${p.persistentKeepalive ?? 0}|${p.location ?? ''}|${p.via ?? ''}`;
}

export function diffPeers(before: readonly PeerSpec[], after: readonly PeerSpec[]): PeerDiff {
  const old = new Map(before.map((p) => [p.name, p]));
  const diff: PeerDiff = { added: [], changed: [], removed: [] };
  const names = new Set<string>();
  for (const p of after) {
    names.add(p.name);
    const prev = old.get(p.name);
    if (prev === undefined) diff.added.push(p);
    else if (fingerprint(prev) !== fingerprint(p)) diff.changed.push(p);
  }
  for (const p of before) if (!names.has(p.name)) diff.removed.push(p.name);
  return diff;
}

export interface ApplyResult {
  applied: number;
  failed: Array<{ peer: string; op: 'add' | 'change' | 'remove'; error: string }>;
}

export function applyPeerDiff(dataplane: PeerControl, diff: PeerDiff): ApplyResult {
  const result: ApplyResult = { applied: 0, failed: [] };
  const step = (peer: string, op: 'add' | 'change' | 'remove', fn: () => void) => {
    try {
      fn();
      result.applied++;
    } catch (err) {
      result.failed.push({ peer, op, error: (err as Error).message });
    }
  };
  for (const name of diff.removed) step(name, 'remove', () => dataplane.removePeer(name));
  for (const p of diff.changed) step(p.name, 'change', () => dataplane.updatePeer(p));
  for (const p of diff.added) step(p.name, 'add', () => dataplane.addPeer(p));
  return result;
}
