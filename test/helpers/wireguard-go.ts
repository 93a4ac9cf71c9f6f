/**
 * Debian's wireguard-go as a node's WireGuard peer, configured with wg(8)
 * the way a user would: a key file, a listen port, one peer, an address and
 * a route for the remote pod subnet.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetnsSandbox, SandboxProcess } from './netns.ts';
import type { OverlayNode } from './cluster.ts';

export interface WireguardGo {
  ifname: string;
  proc: SandboxProcess;
  stop(): Promise<void>;
}

export interface WireguardGoPeer {
  publicKey: string;
  endpoint: string;
  /** Comma-separated, as wg(8) takes them. */
  allowedIps: string;
}

/** Does a process accept connections on the unix socket at `path`? (A refused connect leaves the file alone.) */
function unixAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export async function startWireguardGo(sb: NetnsSandbox, n: OverlayNode, ifname: string, privateKey: string, peer: WireguardGoPeer): Promise<WireguardGo> {
  // A wireguard-go just killed may still hold its device for a moment while the kernel
  // tears it down; a new one with the same name would fail to create it: wait it out.
  for (let i = 0; i < 100 && (await sb.exec(n.ns, ['ip', 'link', 'show', ifname])).code === 0; i++) await new Promise((r) => setTimeout(r, 50));
  const sock = `/var/run/wireguard/${ifname}.sock`;
  // A killed one also leaves its socket file. wireguard-go removes a stale one itself, but so
  // does wg(8) when a connect is refused, and the two racing made the new wireguard-go exit
  // ("remove ...: no such file"): remove it here, before the new one starts.
  if (existsSync(sock) && !(await unixAnswers(sock))) rmSync(sock, { force: true });
  const proc = sb.spawn(n.ns, ['env', 'WG_PROCESS_FOREGROUND=1', 'LOG_LEVEL=error', 'wireguard-go', ifname]);
  // Wait until it accepts on its socket, by connecting ourselves: wg(8) would unlink a socket
  // that is bound but not listening yet, and wireguard-go exits when its socket file goes.
  let answered = false;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  for (let i = 0; i < 100 && !answered && !exited; i++) {
    answered = existsSync(sock) && (await unixAnswers(sock));
    if (!answered) await new Promise((r) => setTimeout(r, 50));
  }
  // wireguard-go logs to stdout.
  if (!answered) throw new Error(`wireguard-go ${ifname} did not answer on ${sock}${exited ? ' (it exited)' : ''}: ${proc.stdout()}${proc.stderr()}`);
  const dir = mkdtempSync(join(tmpdir(), 'weft-wg-go-'));
  const keyFile = join(dir, 'private.key');
  try {
    writeFileSync(keyFile, `${privateKey}\n`, { mode: 0o600 });
    await sb.run(n.ns, ['wg', 'set', ifname, 'private-key', keyFile, 'listen-port', '51820', 'peer', peer.publicKey, 'allowed-ips', peer.allowedIps, 'endpoint', peer.endpoint]);
  } finally {
    // wg has read the key: leave no private key behind in /tmp.
    rmSync(dir, { recursive: true, force: true });
  }
  await sb.run(n.ns, ['ip', 'addr', 'add', `${n.vtepIp}/32`, 'dev', ifname]);
  if (n.vtepIp6 !== undefined) await sb.run(n.ns, ['ip', 'addr', 'add', `${n.vtepIp6}/128`, 'dev', ifname, 'nodad']);
  await sb.run(n.ns, ['ip', 'link', 'set', ifname, 'mtu', '1420', 'up']);
  // As wg-quick does: a route into the device per allowed IP (a dual-stack peer has one per family).
  for (const allowed of peer.allowedIps.split(',')) await sb.run(n.ns, ['ip', 'route', 'add', allowed, 'dev', ifname]);
  return {
    ifname,
    proc,
    stop: async () => {
      await proc.stop();
    },
  };
}
