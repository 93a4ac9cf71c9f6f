/**
 * `weft showconf <peer>`, as Kilo's `kgctl showconf`: a wg-quick file with
 * which a machine running stock WireGuard joins the overlay through this
 * node. Configure the machine on the node first (a peer with its public key
 * and its address as subnet, e.g. 10.250.0.5/32); showconf then prints the
 * other half: its Address, this node as its one [Peer], and the cluster
 * network as AllowedIPs. weft never holds the machine's private key: pass it
 * with --private-key, or the line stays a comment to fill in.
 */
import { WeftError } from '../errors.ts';
import type { NodeStatus } from './status-format.ts';

export function showconf(s: NodeStatus, peerName: string, privateKey?: string): string {
  if (s.kind !== 'wireguard') {
    throw new WeftError('SHOWCONF_BACKEND', `showconf needs the wireguard backend; node ${s.node.name} runs ${s.node.backend}`);
  }
  const peer = s.peers.find((p) => p.name === peerName);
  if (peer === undefined) {
    const known = s.peers.map((p) => p.name).join(', ') || 'none';
    throw new WeftError('PEER_UNKNOWN', `node ${s.node.name} has no peer "${peerName}" (peers: ${known}); add it to the node's config with its public key first`);
  }
  if (peer.subnets.length === 0) throw new WeftError('SHOWCONF_NO_ADDRESS', `peer "${peerName}" has no subnet: give it its address (e.g. 10.250.0.5/32) in the node's config`);
  const lines = [
    `# weft showconf ${peerName}: join the overlay through node ${s.node.name}.`,
    '[Interface]',
    privateKey ? `PrivateKey = ${privateKey}` : `# PrivateKey = (the private key of ${peerName}, whose public key is ${peer.publicKey ?? '?'}; weft never holds it)`,
    `Address = ${peer.subnets.join(', ')}`,
    '',
    '[Peer]',
    `# node ${s.node.name}, subnet ${[s.node.subnet, s.node.subnet6].filter((x) => x !== undefined).join(', ')}`,
    `PublicKey = ${s.node.publicKey}`,
    `Endpoint = ${s.node.underlay}`,
    // Every family of the pod network goes through the node.
    `AllowedIPs = ${[s.node.clusterCidr, s.node.clusterCidr6].filter((x) => x !== undefined).join(', ')}`,
    // The machine may sit behind NAT: keep its mapping open so the node can reach it.
    'PersistentKeepalive = 25',
  ];
  return `${lines.join('\n')}\n`;
}
