/**
 * What membership tells the data plane, in the data plane's own shape: a
 * GossipPeer is structurally a dataplane PeerSpec (name, endpoint, subnets,
 * vtepMac), so the node daemon hands it to Backend.addPeer / updatePeer
 * as is, without gossip importing the data plane.
 */
import type { Cidr } from '../wire/addr.ts';
import { bytesEqual } from './record.ts';
import type { NodeRecord } from './record.ts';

/** A live peer as the data plane needs it; structurally a dataplane PeerSpec. */
export interface GossipPeer {
  readonly name: string;
  readonly endpoint: { readonly address: string; readonly port: number };
  readonly subnets: readonly Cidr[];
  readonly vtepMac: Uint8Array;
}

/**
 * What the data plane is told. Suspicion emits nothing: routes are withdrawn
 * only when a node is declared dead or leaves, never while merely suspected.
 */
export interface MemberEvent {
  readonly type: 'peer-added' | 'peer-changed' | 'peer-removed';
  readonly name: string;
  readonly record: NodeRecord;
  readonly peer: GossipPeer;
  /** For peer-removed: declared dead, or left gracefully. */
  readonly reason?: 'dead' | 'left';
}

export function peerOf(r: NodeRecord): GossipPeer {
  return { name: r.name, endpoint: { address: r.address, port: r.dataPort }, subnets: r.subnets, vtepMac: r.vtepMac };
}

/** Whether the data plane must hear of a record change (a refutation alone changes nothing it uses). */
export function dataChanged(a: NodeRecord, b: NodeRecord): boolean {
  if (a.address !== b.address || a.dataPort !== b.dataPort || a.vtepIp !== b.vtepIp) return true;
  if (!bytesEqual(a.vtepMac, b.vtepMac)) return true;
  if ((a.wgPublicKey === null) !== (b.wgPublicKey === null)) return true;
  if (a.wgPublicKey !== null && b.wgPublicKey !== null && !bytesEqual(a.wgPublicKey, b.wgPublicKey)) return true;
  if (a.subnets.length !== b.subnets.length) return true;
  return a.subnets.some((s, i) => s.bits !== b.subnets[i]!.bits || !bytesEqual(s.addr, b.subnets[i]!.addr));
}
