/**
 * `weft status` for people, in the manner of `wg show`: the node first,
 * then each peer with its endpoint, subnets, handshake and transfer, then
 * drops by reason. Pure: it formats the JSON the control socket returns.
 */

import type { NodeStatus } from './node-status.ts';
import { WAIT_BOUNDS_US, waitQuantileUs } from '../transport/wait-histogram.ts';
import type { WaitCounts } from '../transport/wait-histogram.ts';

export type { NodeStatus, StatusPeer } from './node-status.ts';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(2)} ${units[i]}`;
}

export function formatAgo(seconds: number): string {
  if (seconds < 1) return 'Now';
  const parts: string[] = [];
  const units: Array<[number, string]> = [[86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']];
  let rest = Math.floor(seconds);
  for (const [size, name] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
  }
  return `${parts.join(', ')} ago`;
}

/** "reason n, reason n" for the counters above zero, or "none". */
function nonZero(counts: Readonly<Record<string, number>>): string {
  const set = Object.entries(counts).filter(([, v]) => v > 0);
  return set.length === 0 ? 'none' : set.map(([k, v]) => `${k} ${v}`).join(', ');
}

export function formatStatus(s: NodeStatus, nowMs = Date.now()): string {
  const n = s.node;
  const lines: string[] = [];
  lines.push(`node: ${n.name}`);
  lines.push(`  backend: ${n.backend}`);
  const both = (v4: string | undefined, v6: string | undefined) => [v4, v6].filter((x) => x !== undefined).join(', ');
  lines.push(`  subnet: ${both(n.subnet, n.subnet6)} (cluster ${both(n.clusterCidr, n.clusterCidr6)})`);
  lines.push(`  device: ${n.tun} (mtu ${n.mtu}, offload ${n.offload})`);
  lines.push(`  scheduling: ${n.scheduling}`);
  lines.push(`  underlay: ${both(n.underlay, n.underlaySecond)}`);
  if (s.kind !== 'vxlan') {
    lines.push(`  public key: ${s.node.publicKey}`);
    if (n.aead !== undefined) lines.push(`  transport AEAD: ${n.aead}`);
  }
  if (s.kind !== 'wireguard') {
    // An IPv6-only node has no IPv4 VTEP (0.0.0.0 in the identity): name only what it answers for.
    const vteps = [...(s.node.vtepIp !== '0.0.0.0' ? [s.node.vtepIp] : []), ...(s.node.vtepIp6 !== undefined ? [s.node.vtepIp6] : [])];
    lines.push(`  vtep: ${vteps.join(', ')} ${s.node.vtepMac} (vni ${s.node.vni})`);
  }
  for (const p of s.peers) {
    lines.push('');
    lines.push(`peer: ${p.name}`);
    lines.push(`  backend: ${p.backend}`);
    if (p.publicKey) lines.push(`  public key: ${p.publicKey}`);
    lines.push(`  endpoint: ${p.endpoint ?? '(none)'}`);
    lines.push(`  subnets: ${p.subnets.join(', ') || '(none)'}`);
    if (p.lastHandshakeWallMs !== undefined) {
      lines.push(`  latest handshake: ${p.lastHandshakeWallMs > 0 ? formatAgo((nowMs - p.lastHandshakeWallMs) / 1000) : '(none)'}`);
    }
    lines.push(`  transfer: ${formatBytes(p.rxBytes)} received, ${formatBytes(p.txBytes)} sent`);
    if (p.persistentKeepalive) lines.push(`  persistent keepalive: every ${p.persistentKeepalive} seconds`);
  }
  // Members this node shares no underlay family with: no direct path, so no peer above.
  for (const [name, address] of Object.entries(s.gossip?.unreachable ?? {})) {
    lines.push('');
    lines.push(`unreachable: ${name}`);
    lines.push(`  underlay: ${address} (no underlay family in common: no direct path; its pods' packets count as no_route)`);
  }
  lines.push('');
  lines.push(`drops: ${nonZero(s.drops)}`);
  lines.push(`kernel receive drops: ${nonZero(s.kernelDrops)}`);
  if (s.receiveWait !== undefined) lines.push(`receive wait: ${waitLine(s.receiveWait)}`);
  // Congestion signals from weft's flow queues under load (docs/ARCHITECTURE.md, "Queues"), apart from bad input.
  lines.push(`queue: ${nonZero({ 'codel drops': s.router.codelDrops, 'overlimit drops': s.router.overlimitDrops, 'ECN marks': s.router.ecnMarks })}`);
  if (s.gossip !== undefined) lines.push(`gossip drops: ${nonZero(s.gossip.drops)}`);
  return `${lines.join('\n')}\n`;
}

/** "p50 <= 32 us, p99 <= 2.048 ms (1234 since start)": bucket bounds, so "at most". */
function waitLine(w: WaitCounts): string {
  const p50 = waitQuantileUs(w, 0.5);
  const p99 = waitQuantileUs(w, 0.99);
  if (p50 === undefined || p99 === undefined) return 'none yet';
  return `p50 ${boundText(p50)}, p99 ${boundText(p99)} (${w.count} since start)`;
}

function boundText(us: number): string {
  if (us === Infinity) return `> ${WAIT_BOUNDS_US[WAIT_BOUNDS_US.length - 2]! / 1000} ms`;
  return us < 1000 ? `<= ${us} us` : `<= ${us / 1000} ms`;
}
