/**
 * The WireGuard encapsulation seen through wg(8)'s eyes: its peers for `wg
 * show`, and `wg set` changes applied through the data plane's add / update
 * / remove calls, the ones every other control path uses. Peers added by wg
 * set get a name derived from their key, since wg has no names.
 */
import type { Dataplane } from '../dataplane/dataplane.ts';
import type { PeerSpec } from '../dataplane/peer.ts';
import { formatCidr } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';
import type { WgPeer } from './peer.ts';
import { EINVAL } from './uapi.ts';
import type { UapiChange, UapiDeviceState } from './uapi.ts';
import type { UapiDevice } from './uapi-server.ts';
import type { WireguardEncapsulation } from './wireguard-encapsulation.ts';

/** wireguard-go answers EOPNOTSUPP-like errors for what it cannot change at run time; so do we. */
const EOPNOTSUPP = 95;

export function uapiDevice(dataplane: Dataplane, wireguard: WireguardEncapsulation, listenPort: () => number, onError: (message: string) => void): UapiDevice {
  const byKey = (key: Uint8Array): WgPeer | undefined => [...wireguard.state.peers].find((p) => Buffer.compare(Buffer.from(p.publicKey), Buffer.from(key)) === 0);
  /**
   * wg(8) moves an allowed IP to the peer it is set on; weft's table lets a
   * subnet have one owner, so the previous owner gives it up first.
   */
  const release = (subnets: readonly Cidr[], keep: string) => {
    const wanted = new Set(subnets.map(formatCidr));
    for (const p of [...wireguard.state.peers]) {
      if (p.name === keep || !p.subnets.some((c) => wanted.has(formatCidr(c)))) continue;
      dataplane.updatePeer({ ...specOf(p), subnets: p.subnets.filter((c) => !wanted.has(formatCidr(c))) });
    }
  };
  return {
    state(): UapiDeviceState {
      return {
        privateKey: wireguard.state.local.privateKey,
        listenPort: listenPort(),
        fwmark: 0,
        peers: [...wireguard.state.peers].map((p) => {
          const s = p.status();
          return {
            publicKey: p.publicKey,
            presharedKey: s.presharedKey,
            endpoint: p.endpoint,
            lastHandshakeMs: p.lastHandshakeWallMs,
            txBytes: p.traffic.txBytes,
            rxBytes: p.traffic.rxBytes,
            persistentKeepalive: p.persistentKeepaliveMs / 1000,
            allowedIps: p.subnets,
          };
        }),
      };
    },
    apply(change: UapiChange): number {
      // The private key and port belong to the node's configuration, not to wg set.
      if (change.privateKey !== undefined || (change.listenPort !== undefined && change.listenPort !== listenPort()) || change.fwmark) return EOPNOTSUPP;
      try {
        if (change.replacePeers) for (const p of [...wireguard.state.peers]) dataplane.removePeer(p.name);
        for (const c of change.peers) {
          const existing = byKey(c.publicKey);
          if (c.remove) {
            if (existing) dataplane.removePeer(existing.name);
            continue;
          }
          if (existing === undefined && c.updateOnly) continue;
          const before = existing ? specOf(existing) : undefined;
          const name = existing?.name ?? `wg-${Buffer.from(c.publicKey).toString('hex').slice(0, 12)}`;
          const psk = c.presharedKey ?? before?.presharedKey;
          const endpoint = c.endpoint ?? before?.endpoint;
          const spec: PeerSpec = {
            name,
            via: 'wireguard',
            ...(endpoint ? { endpoint } : {}),
            subnets: c.replaceAllowedIps || before === undefined ? c.allowedIps : [...before.subnets, ...c.allowedIps],
            publicKey: c.publicKey,
            // An all-zero preshared key removes it, as in wg(8).
            ...(psk && psk.some((b) => b !== 0) ? { presharedKey: psk } : {}),
            persistentKeepalive: c.persistentKeepalive ?? before?.persistentKeepalive ?? 0,
          };
          release(spec.subnets, name);
          if (existing) dataplane.updatePeer(spec);
          else dataplane.addPeer(spec);
        }
        return 0;
      } catch (err) {
        onError((err as Error).message);
        return EINVAL;
      }
    },
  };
}

/** A WireGuard peer as the spec that would make it again. */
function specOf(p: WgPeer): PeerSpec {
  const psk = p.status().presharedKey;
  return {
    name: p.name,
    via: 'wireguard',
    ...(p.endpoint ? { endpoint: p.endpoint } : {}),
    subnets: p.subnets,
    publicKey: p.publicKey,
    ...(psk ? { presharedKey: psk } : {}),
    persistentKeepalive: p.persistentKeepaliveMs / 1000,
  };
}
