/**
 * Debian's wireguard-go as a node's WireGuard peer, configured with wg(8)
 * the way a user would: a key file, a listen port, one peer, an address and
 * a route for the remote pod subnet.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  allowedIps: string;
}

export async function startWireguardGo(sb: NetnsSandbox, n: OverlayNode, ifname: string, privateKey: string, peer: WireguardGoPeer): Promise<WireguardGo> {
  // A wireguard-go just killed may still hold its device for a moment while the kernel
  // tears it down; a new one with the same name would fail to create it: wait it out.
  for (let i = 0; i < 100 && (await sb.exec(n.ns, ['ip', 'link', 'show', ifname])).code === 0; i++) await new Promise((r) => setTimeout(r, 50));
  const proc = sb.spawn(n.ns, ['env', 'WG_PROCESS_FOREGROUND=1', 'LOG_LEVEL=error', 'wireguard-go', ifname]);
  const sock = `/var/run/wireguard/${ifname}.sock`;
  // The socket file appears before wireguard-go accepts on it, and wg(8) falls back to the
  // kernel (EPROTONOSUPPORT here) when a connect is refused: wait until wg show answers.
  let answered = false;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  for (let i = 0; i < 100 && !answered && !exited; i++) {
    answered = existsSync(sock) && (await sb.exec(n.ns, ['wg', 'show', ifname], { timeoutMs: 2000 })).code === 0;
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
  await sb.run(n.ns, ['ip', 'link', 'set', ifname, 'mtu', '1420', 'up']);
  await sb.run(n.ns, ['ip', 'route', 'add', peer.allowedIps, 'dev', ifname]);
  return {
    ifname,
    proc,
    stop: async () => {
      await proc.stop();
    },
  };
}
