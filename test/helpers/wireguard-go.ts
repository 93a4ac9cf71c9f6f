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
  const dir = mkdtempSync(join(tmpdir(), 'weft-wg-go-'));
  const keyFile = join(dir, 'private.key');
  writeFileSync(keyFile, `${privateKey}\n`, { mode: 0o600 });
  const proc = sb.spawn(n.ns, ['env', 'WG_PROCESS_FOREGROUND=1', 'LOG_LEVEL=error', 'wireguard-go', ifname]);
  const sock = `/var/run/wireguard/${ifname}.sock`;
  // The socket file appears before wireguard-go accepts on it, and wg(8) falls back to the
  // kernel (EPROTONOSUPPORT here) when a connect is refused: wait until wg show answers.
  let answered = false;
  for (let i = 0; i < 100 && !answered; i++) {
    answered = existsSync(sock) && (await sb.exec(n.ns, ['wg', 'show', ifname], { timeoutMs: 2000 })).code === 0;
    if (!answered) await new Promise((r) => setTimeout(r, 50));
  }
  if (!answered) throw new Error(`wireguard-go ${ifname} did not answer on ${sock}: ${proc.stderr()}`);
  try {
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
