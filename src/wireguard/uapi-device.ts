/**
 * The WireGuard backend seen through wg(8)'s eyes: its state for `wg show`,
 * and `wg set` changes applied through the same add / update / remove calls
 * every other control path uses. Peers added by wg set get a name derived
 * from their key, since wg has no names.
 */
import { EINVAL } from './uapi.ts';
import type { UapiChange, UapiDeviceState } from './uapi.ts';
import type { UapiDevice } from './uapi-server.ts';
import type { PeerSpec } from '../dataplane/backend.ts';
import type { WireguardBackend } from './wireguard-backend.ts';

/** wireguard-go answers EOPNOTSUPP-like errors for what it cannot change at run time; so do we. */
const EOPNOTSUPP = 95;

export function uapiDevice(backend: WireguardBackend, listenPort: () => number, onError: (message: string) => void): UapiDevice {
  const byKey = (key: Uint8Array) => backend.peers().find((p) => Buffer.compare(Buffer.from(p.publicKey), Buffer.from(key)) === 0);
  return {
    state(): UapiDeviceState {
      return {
        privateKey: backend.state.local.privateKey,
        listenPort: listenPort(),
        fwmark: 0,
        peers: backend.peers().map((p) => ({
          publicKey: p.publicKey,
          presharedKey: p.presharedKey,
          endpoint: p.endpoint,
          lastHandshakeMs: p.lastHandshakeWallMs,
          txBytes: p.traffic.txBytes,
          rxBytes: p.traffic.rxBytes,
          persistentKeepalive: p.persistentKeepalive,
          allowedIps: p.subnets,
        })),
      };
    },
    apply(change: UapiChange): number {
      // The private key and port belong to the node's configuration, not to wg set.
      if (change.privateKey !== undefined || (change.listenPort !== undefined && change.listenPort !== listenPort()) || change.fwmark) return EOPNOTSUPP;
      try {
        if (change.replacePeers) for (const p of backend.peers()) backend.removePeer(p.name);
        for (const c of change.peers) {
          const existing = byKey(c.publicKey);
          if (c.remove) {
            if (existing) backend.removePeer(existing.name);
            continue;
          }
          if (existing === undefined && c.updateOnly) continue;
          const name = existing?.name ?? `wg-${Buffer.from(c.publicKey).toString('hex').slice(0, 12)}`;
          const psk = c.presharedKey ?? existing?.presharedKey;
          const endpoint = c.endpoint ?? existing?.endpoint;
          const spec: PeerSpec = {
            name,
            ...(endpoint ? { endpoint } : {}),
            subnets: c.replaceAllowedIps || existing === undefined ? c.allowedIps : [...existing.subnets, ...c.allowedIps],
            publicKey: c.publicKey,
            // An all-zero preshared key removes it, as in wg(8).
            ...(psk && psk.some((b) => b !== 0) ? { presharedKey: psk } : {}),
            persistentKeepalive: c.persistentKeepalive ?? existing?.persistentKeepalive ?? 0,
          };
          if (existing) backend.updatePeer(spec);
          else backend.addPeer(spec);
        }
        return 0;
      } catch (err) {
        onError((err as Error).message);
        return EINVAL;
      }
    },
  };
}
