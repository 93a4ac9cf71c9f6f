/**
 * WireGuard's configuration file format, as wg(8) `setconf` and wg-quick(8)
 * read it, so a user's existing files work as they are:
 *
 *   [Interface]
 *   PrivateKey = <base64>
 *   ListenPort = 51820
 *   Address = 10.77.0.1/24          (wg-quick; checked, not applied: weft
 *   MTU = 1420                       addresses its device from its subnet and
 *                                    derives the MTU from the underlay)
 *
 *   [Peer]
 *   PublicKey = <base64>
 *   PresharedKey = <base64>
 *   AllowedIPs = 10.77.0.2/32, fd77::2/128
 *   Endpoint = 192.168.50.2:51820
 *   PersistentKeepalive = 25
 *
 * Keys are case-insensitive, `#` starts a comment, values may repeat where
 * wg allows (AllowedIPs, Address accumulate). Other wg-quick keys (DNS,
 * Table, PreUp, PostDown, SaveConfig, FwMark) are accepted and ignored with
 * a note, since weft manages routes itself. Errors name the line and key.
 */
import { isIP } from 'node:net';
import { decodeKey } from '../crypto/keys.ts';
import { publicKey } from '../crypto/x25519.ts';
import { WeftError } from '../errors.ts';
import { parseCidr } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';

export interface WgPeerConf {
  publicKey: Uint8Array;
  presharedKey: Uint8Array | undefined;
  allowedIps: Cidr[];
  endpoint: { address: string; port: number } | undefined;
  /** Seconds; 0 means off. */
  persistentKeepalive: number;
}

export interface WgConf {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  listenPort: number | undefined;
  /** wg-quick's Address lines: interface addresses with their prefix. */
  addresses: string[];
  mtu: number | undefined;
  peers: WgPeerConf[];
  /** Keys that were accepted but have no effect in weft. */
  ignored: string[];
}

const IGNORED_INTERFACE_KEYS = new Set(['dns', 'table', 'preup', 'postup', 'predown', 'postdown', 'saveconfig', 'fwmark']);

export function parseWgConf(text: string, source = 'config'): WgConf {
  let section: 'none' | 'interface' | 'peer' = 'none';
  let privateKey: Uint8Array | undefined;
  let listenPort: number | undefined;
  let mtu: number | undefined;
  const addresses: string[] = [];
  const ignored: string[] = [];
  const peers: WgPeerConf[] = [];
  let peer: Partial<WgPeerConf> & { allowedIps: Cidr[]; line: number } = { allowedIps: [], line: 0 };
  let interfaces = 0;

  const fail = (line: number, message: string): never => {
    throw new WeftError('CONFIG_INVALID', `${source} line ${line}: ${message}`);
  };
  const finishPeer = () => {
    if (section !== 'peer') return;
    if (peer.publicKey === undefined) fail(peer.line, '[Peer] needs a PublicKey');
    if (peers.some((p) => equal(p.publicKey, peer.publicKey!))) fail(peer.line, 'the same PublicKey appears in two [Peer] sections');
    peers.push({
      publicKey: peer.publicKey!,
      presharedKey: peer.presharedKey,
      allowedIps: peer.allowedIps,
      endpoint: peer.endpoint,
      persistentKeepalive: peer.persistentKeepalive ?? 0,
    });
  };

  const lines = text.split(/\r?\n/u);
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i]!.replace(/#.*$/u, '').trim();
    if (line === '') continue;
    const header = /^\[(\w+)\]$/u.exec(line);
    if (header) {
      finishPeer();
      const name = header[1]!.toLowerCase();
      if (name === 'interface') {
        if (++interfaces > 1) fail(n, 'a second [Interface] section; there must be exactly one');
        section = 'interface';
      } else if (name === 'peer') {
        section = 'peer';
        peer = { allowedIps: [], line: n };
      } else fail(n, `unknown section [${header[1]}]; expected [Interface] or [Peer]`);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) fail(n, `expected "Key = Value", got "${line}"`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const k = key.toLowerCase();
    if (section === 'none') fail(n, `"${key}" before any [Interface] or [Peer] section`);
    if (section === 'interface') {
      if (k === 'privatekey') privateKey = decodeKeyAt(value, n, 'PrivateKey', fail);
      else if (k === 'listenport') listenPort = port(value, n, 'ListenPort', fail);
      else if (k === 'address') for (const a of list(value)) addresses.push(address(a, n, fail));
      else if (k === 'mtu') mtu = integer(value, n, 'MTU', 576, 65535, fail);
      else if (IGNORED_INTERFACE_KEYS.has(k)) ignored.push(key);
      else fail(n, `unknown [Interface] key "${key}"; known: PrivateKey, ListenPort, Address, MTU`);
    } else {
      if (k === 'publickey') peer.publicKey = decodeKeyAt(value, n, 'PublicKey', fail);
      else if (k === 'presharedkey') peer.presharedKey = decodeKeyAt(value, n, 'PresharedKey', fail);
      else if (k === 'allowedips') for (const c of list(value)) peer.allowedIps.push(cidrAt(c, n, fail));
      else if (k === 'endpoint') peer.endpoint = endpoint(value, n, fail);
      else if (k === 'persistentkeepalive') peer.persistentKeepalive = value === 'off' ? 0 : integer(value, n, 'PersistentKeepalive', 0, 65535, fail);
      else fail(n, `unknown [Peer] key "${key}"; known: PublicKey, PresharedKey, AllowedIPs, Endpoint, PersistentKeepalive`);
    }
  }
  finishPeer();
  if (privateKey === undefined) throw new WeftError('CONFIG_INVALID', `${source}: [Interface] needs a PrivateKey (make one with: weft genkey)`);
  return { privateKey, publicKey: publicKey(privateKey), listenPort, addresses, mtu, peers, ignored };
}

type Fail = (line: number, message: string) => never;

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function decodeKeyAt(value: string, n: number, what: string, fail: Fail): Uint8Array {
  try {
    return decodeKey(value, what);
  } catch (err) {
    return fail(n, (err as Error).message);
  }
}

function integer(value: string, n: number, what: string, min: number, max: number, fail: Fail): number {
  if (!/^\d+$/u.test(value) || Number(value) < min || Number(value) > max) fail(n, `${what} must be an integer from ${min} to ${max}, got "${value}"`);
  return Number(value);
}

function port(value: string, n: number, what: string, fail: Fail): number {
  return integer(value, n, what, 0, 65535, fail);
}

function cidrAt(value: string, n: number, fail: Fail): Cidr {
  // wg accepts a bare address as a host route, and host bits (it masks them).
  const text = value.includes('/') ? value : `${value}/${isIP(value) === 6 ? 128 : 32}`;
  try {
    return parseCidr(text, { strict: false });
  } catch {
    return fail(n, `AllowedIPs entry "${value}" is not an IP prefix such as 10.77.0.2/32 or fd77::/64`);
  }
}

function address(value: string, n: number, fail: Fail): string {
  try {
    parseCidr(value.includes('/') ? value : `${value}/32`, { strict: false });
  } catch {
    fail(n, `Address "${value}" is not an interface address such as 10.77.0.1/24`);
  }
  return value;
}

function endpoint(value: string, n: number, fail: Fail): { address: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/u.exec(value) ?? /^([^:[\]]+):(\d+)$/u.exec(value);
  if (!m) return fail(n, `Endpoint "${value}" must be address:port, with IPv6 in brackets ([fd00::2]:51820)`);
  if (isIP(m[1]!) === 0) return fail(n, `Endpoint "${value}": weft takes IP addresses, not host names (resolve it first)`);
  return { address: m[1]!, port: integer(m[2]!, n, 'Endpoint port', 1, 65535, fail) };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
