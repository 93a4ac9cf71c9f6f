/**
 * `weft status` for people, in the manner of `wg show`: the node first,
 * then each peer with its endpoint, subnets, handshake and transfer, then
 * drops by reason. Pure: it formats the JSON the control socket returns.
 */

export interface StatusPeer {
  name: string;
  /** The protocol that carries this peer's traffic (vxlan or wireguard). */
  backend?: string;
  endpoint: string | null;
  subnets: string[];
  txBytes: number;
  rxBytes: number;
  txPackets: number;
  rxPackets: number;
  publicKey?: string;
  /** Wall-clock ms of the last handshake; 0 for never (WireGuard only). */
  lastHandshakeWallMs?: number;
  persistentKeepalive?: number;
}

export interface NodeStatus {
  node: {
    name: string;
    backend: string;
    subnet: string;
    clusterCidr: string;
    tun: string;
    mtu: number;
    underlay: string;
    startedAt: string;
    [key: string]: unknown;
  };
  peers: StatusPeer[];
  drops: Record<string, number>;
  /** Datagrams the kernel dropped for weft's sockets before weft read them, by socket. */
  kernelDrops?: Record<string, number>;
  gossip?: { drops?: Record<string, number> };
  [key: string]: unknown;
}

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
function nonZero(counts: Record<string, number>): string {
  const set = Object.entries(counts).filter(([, v]) => v > 0);
  return set.length === 0 ? 'none' : set.map(([k, v]) => `${k} ${v}`).join(', ');
}

export function formatStatus(s: NodeStatus, nowMs = Date.now()): string {
  const n = s.node;
  const lines: string[] = [];
  lines.push(`node: ${n.name}`);
  lines.push(`  backend: ${n.backend}`);
  lines.push(`  subnet: ${n.subnet} (cluster ${n.clusterCidr})`);
  lines.push(`  device: ${n.tun} (mtu ${n.mtu}${typeof n.offload === 'string' ? `, offload ${n.offload}` : ''})`);
  lines.push(`  underlay: ${n.underlay}`);
  if (typeof n.publicKey === 'string') lines.push(`  public key: ${n.publicKey}`);
  if (typeof n.vtepMac === 'string') lines.push(`  vtep: ${String(n.vtepIp)} ${n.vtepMac} (vni ${String(n.vni)})`);
  for (const p of s.peers) {
    lines.push('');
    lines.push(`peer: ${p.name}`);
    if (p.backend) lines.push(`  backend: ${p.backend}`);
    if (p.publicKey) lines.push(`  public key: ${p.publicKey}`);
    lines.push(`  endpoint: ${p.endpoint ?? '(none)'}`);
    lines.push(`  subnets: ${p.subnets.join(', ') || '(none)'}`);
    if (p.lastHandshakeWallMs !== undefined) {
      lines.push(`  latest handshake: ${p.lastHandshakeWallMs > 0 ? formatAgo((nowMs - p.lastHandshakeWallMs) / 1000) : '(none)'}`);
    }
    lines.push(`  transfer: ${formatBytes(p.rxBytes)} received, ${formatBytes(p.txBytes)} sent`);
    if (p.persistentKeepalive) lines.push(`  persistent keepalive: every ${p.persistentKeepalive} seconds`);
  }
  lines.push('');
  lines.push(`drops: ${nonZero(s.drops)}`);
  if (s.kernelDrops !== undefined) lines.push(`kernel receive drops: ${nonZero(s.kernelDrops)}`);
  if (s.gossip?.drops !== undefined) lines.push(`gossip drops: ${nonZero(s.gossip.drops)}`);
  return `${lines.join('\n')}\n`;
}
