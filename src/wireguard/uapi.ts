/**
 * The configuration protocol that wg(8) speaks to userspace WireGuard
 * implementations over /var/run/wireguard/<iface>.sock (the cross-platform
 * interface page at wireguard.com/xplatform). Text, one key=value per line,
 * a request ends with an empty line:
 *
 *   get=1                      ->  private_key=<hex> listen_port=... then per peer
 *                                  public_key=<hex> (starts it) preshared_key= endpoint=
 *                                  last_handshake_time_sec= _nsec= tx_bytes= rx_bytes=
 *                                  persistent_keepalive_interval= allowed_ip=... protocol_version=1
 *                                  errno=0
 *   set=1, key=value lines     ->  errno=0 (or the errno of the first failure)
 *
 * Keys travel as lowercase hex here, not base64. This file is pure: it
 * formats a device's state and parses a set request into a change; the
 * server and the backend apply it.
 */
import { isIP } from 'node:net';
import { endpointText, formatCidr, parseCidr } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';

export const EINVAL = 22;
export const EPROTO = 71;

export interface UapiPeerState {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | undefined;
  endpoint: { address: string; port: number } | undefined;
  /** Wall-clock time of the last completed handshake in ms since the epoch; 0 for never. */
  lastHandshakeMs: number;
  txBytes: number;
  rxBytes: number;
  /** Seconds; 0 is off. */
  persistentKeepalive: number;
  allowedIps: readonly Cidr[];
}

export interface UapiDeviceState {
  privateKey: Uint8Array | undefined;
  listenPort: number;
  fwmark: number;
  peers: readonly UapiPeerState[];
}

export interface UapiPeerChange {
  publicKey: Uint8Array;
  remove: boolean;
  updateOnly: boolean;
  /** undefined: unchanged; a zero key removes it, as wg(8) does. */
  presharedKey: Uint8Array | undefined;
  endpoint: { address: string; port: number } | undefined;
  persistentKeepalive: number | undefined;
  replaceAllowedIps: boolean;
  allowedIps: Cidr[];
}

export interface UapiChange {
  /** undefined: unchanged; a zero key removes it. */
  privateKey: Uint8Array | undefined;
  listenPort: number | undefined;
  fwmark: number | undefined;
  replacePeers: boolean;
  peers: UapiPeerChange[];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The body of a get=1 response, errno line and blank line included. */
export function formatGet(state: UapiDeviceState): string {
  const lines: string[] = [];
  if (state.privateKey) lines.push(`private_key=${hex(state.privateKey)}`);
  lines.push(`listen_port=${state.listenPort}`);
  if (state.fwmark) lines.push(`fwmark=${state.fwmark}`);
  for (const p of state.peers) {
    lines.push(`public_key=${hex(p.publicKey)}`);
    if (p.presharedKey) lines.push(`preshared_key=${hex(p.presharedKey)}`);
    lines.push('protocol_version=1');
    if (p.endpoint) lines.push(`endpoint=${endpointText(p.endpoint.address, p.endpoint.port)}`);
    const sec = Math.floor(p.lastHandshakeMs / 1000);
    lines.push(`last_handshake_time_sec=${sec}`, `last_handshake_time_nsec=${(p.lastHandshakeMs - sec * 1000) * 1_000_000}`);
    lines.push(`tx_bytes=${p.txBytes}`, `rx_bytes=${p.rxBytes}`, `persistent_keepalive_interval=${p.persistentKeepalive}`);
    for (const c of p.allowedIps) lines.push(`allowed_ip=${formatCidr(c)}`);
  }
  lines.push('errno=0');
  return `${lines.join('\n')}\n\n`;
}

function key(value: string): Uint8Array | null {
  return /^[0-9a-f]{64}$/u.test(value) ? Uint8Array.from(Buffer.from(value, 'hex')) : null;
}

function uint(value: string, max: number): number | null {
  return /^\d+$/u.test(value) && Number(value) <= max ? Number(value) : null;
}

/**
 * Parse the lines of a set=1 request (after the set=1 line, before the
 * blank line). Returns the change, or the errno to answer with.
 */
export function parseSet(lines: readonly string[]): { change: UapiChange } | { errno: number; reason: string } {
  const change: UapiChange = { privateKey: undefined, listenPort: undefined, fwmark: undefined, replacePeers: false, peers: [] };
  let peer: UapiPeerChange | undefined;
  const bad = (reason: string) => ({ errno: EINVAL, reason });
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq < 1) return bad(`malformed line "${line}"`);
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1);
    if (k === 'public_key') {
      const pk = key(v);
      if (!pk) return bad('public_key must be 64 hex digits');
      peer = { publicKey: pk, remove: false, updateOnly: false, presharedKey: undefined, endpoint: undefined, persistentKeepalive: undefined, replaceAllowedIps: false, allowedIps: [] };
      change.peers.push(peer);
      continue;
    }
    if (peer === undefined) {
      if (k === 'private_key') {
        const pk = key(v);
        if (!pk) return bad('private_key must be 64 hex digits');
        change.privateKey = pk;
      } else if (k === 'listen_port') {
        const n = uint(v, 65535);
        if (n === null) return bad('listen_port must be 0..65535');
        change.listenPort = n;
      } else if (k === 'fwmark') {
        const n = uint(v, 0xffffffff);
        if (n === null) return bad('fwmark must be a 32-bit number');
        change.fwmark = n;
      } else if (k === 'replace_peers') {
        if (v !== 'true') return bad('replace_peers only takes true');
        change.replacePeers = true;
      } else return bad(`unknown device key "${k}"`);
      continue;
    }
    if (k === 'remove' && v === 'true') peer.remove = true;
    else if (k === 'update_only' && v === 'true') peer.updateOnly = true;
    else if (k === 'replace_allowed_ips' && v === 'true') peer.replaceAllowedIps = true;
    else if (k === 'preshared_key') {
      const pk = key(v);
      if (!pk) return bad('preshared_key must be 64 hex digits');
      peer.presharedKey = pk;
    } else if (k === 'endpoint') {
      const m = /^\[([^\]]+)\]:(\d+)$/u.exec(v) ?? /^([^:]+):(\d+)$/u.exec(v);
      const port = m ? uint(m[2]!, 65535) : null;
      if (!m || isIP(m[1]!) === 0 || !port) return bad(`endpoint "${v}" must be an IP address and port`);
      peer.endpoint = { address: m[1]!, port };
    } else if (k === 'persistent_keepalive_interval') {
      const n = uint(v, 65535);
      if (n === null) return bad('persistent_keepalive_interval must be 0..65535');
      peer.persistentKeepalive = n;
    } else if (k === 'allowed_ip') {
      try {
        peer.allowedIps.push(parseCidr(v, { strict: false }));
      } catch {
        return bad(`allowed_ip "${v}" is not a prefix`);
      }
    } else if (k === 'protocol_version') {
      if (v !== '1') return { errno: EPROTO, reason: `protocol_version ${v} is not supported` };
    } else return bad(`unknown peer key "${k}"`);
  }
  return { change };
}
