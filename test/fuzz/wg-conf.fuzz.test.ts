import { describe, expect, it } from 'vitest';
import { publicKey } from '../../src/crypto/x25519.ts';
import { WeftError } from '../../src/errors.ts';
import { formatCidr, parseCidr } from '../../src/wire/addr.ts';
import { parseWgConf } from '../../src/wireguard/conf.ts';
import type { WgConf } from '../../src/wireguard/conf.ts';
import { Fuzz, fuzzCount } from './fuzz-helpers.ts';

const SEED = 0xc0_4f;
const COUNT = fuzzCount(30_000);

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** A valid wg-quick file and what parseWgConf must make of it. */
function validConf(f: Fuzz): { text: string; want: Omit<WgConf, 'publicKey' | 'ignored'> & { ignored: number } } {
  const lines: string[] = [];
  const sp = () => f.pick(['', ' ', '  ', '\t']);
  const kw = (k: string) => (f.chance(0.2) ? k.toLowerCase() : f.chance(0.1) ? k.toUpperCase() : k);
  const comment = () => (f.chance(0.1) ? ` # ${f.text(10).replace(/[\r\n\u2028\u2029\u0085]/gu, '')}` : '');
  const privateKey = f.bytes(32);
  const listenPort = f.chance(0.6) ? f.int(65536) : undefined;
  const mtu = f.chance(0.3) ? 576 + f.int(65535 - 576 + 1) : undefined;
  const addresses = f.chance(0.5) ? [`10.${f.int(256)}.${f.int(256)}.1/24`] : [];
  if (f.chance(0.2)) addresses.push(`fd${f.int(256).toString(16)}::1/64`);
  let ignored = 0;
  lines.push(`[${kw('Interface')}]${comment()}`);
  lines.push(`${kw('PrivateKey')}${sp()}=${sp()}${b64(privateKey)}${comment()}`);
  if (listenPort !== undefined) lines.push(`${kw('ListenPort')} = ${listenPort}`);
  if (mtu !== undefined) lines.push(`${kw('MTU')} = ${mtu}`);
  if (addresses.length > 0) lines.push(`${kw('Address')} = ${addresses.join(`,${sp()}`)}`);
  for (const k of ['DNS', 'Table', 'PostUp', 'SaveConfig', 'FwMark']) {
    if (f.chance(0.1)) {
      lines.push(`${kw(k)} = ${f.pick(['1.1.1.1', 'off', 'true', 'iptables -A FORWARD -i %i -j ACCEPT', '0x1234'])}`);
      ignored++;
    }
  }
  const peers: WgConf['peers'] = [];
  for (let i = f.int(4); i > 0; i--) {
    if (f.chance(0.3)) lines.push('');
    const pk = f.bytes(32);
    const psk = f.chance(0.3) ? f.bytes(32) : undefined;
    const allowedIps = Array.from({ length: f.int(4) }, () => {
      const v6 = f.chance(0.3);
      return parseCidr(v6 ? `fd${f.int(256).toString(16)}::${f.int(0x10000).toString(16)}/${f.int(129)}` : `10.${f.int(256)}.${f.int(256)}.${f.int(256)}/${f.int(33)}`, { strict: false });
    });
    const v6e = f.chance(0.3);
    const endpoint = f.chance(0.6) ? { address: v6e ? `fd00::${f.int(0x10000).toString(16)}` : `192.0.2.${f.int(256)}`, port: 1 + f.int(65535) } : undefined;
    const keepalive = f.chance(0.4) ? f.int(65536) : 0;
    lines.push(`[${kw('Peer')}]`);
    lines.push(`${kw('PublicKey')} = ${b64(pk)}`);
    if (psk) lines.push(`${kw('PresharedKey')} = ${b64(psk)}`);
    // AllowedIPs accumulate over repeated lines.
    if (allowedIps.length > 0) {
      const cut = f.int(allowedIps.length + 1);
      const first = allowedIps.slice(0, cut).map(formatCidr);
      const rest = allowedIps.slice(cut).map(formatCidr);
      if (first.length > 0) lines.push(`${kw('AllowedIPs')} = ${first.join(', ')}`);
      if (rest.length > 0) lines.push(`${kw('AllowedIPs')} = ${rest.join(',')}`);
    }
    if (endpoint) lines.push(`${kw('Endpoint')} = ${v6e ? `[${endpoint.address}]` : endpoint.address}:${endpoint.port}`);
    if (keepalive > 0 || f.chance(0.2)) lines.push(`${kw('PersistentKeepalive')} = ${keepalive === 0 && f.chance(0.5) ? 'off' : keepalive}`);
    peers.push({ publicKey: pk, presharedKey: psk, allowedIps, endpoint, persistentKeepalive: keepalive });
  }
  return { text: lines.join(f.chance(0.2) ? '\r\n' : '\n') + (f.chance(0.5) ? '\n' : ''), want: { privateKey, listenPort, mtu, addresses, peers, ignored } };
}

const TOKENS = [
  '[Interface]', '[Peer]', '[interface]', '[Foo]', '[]', 'PrivateKey = ', 'PublicKey = ', 'PresharedKey = ', 'AllowedIPs = ', 'Endpoint = ',
  'ListenPort = ', 'MTU = ', 'Address = ', 'PersistentKeepalive = ', 'off', '0.0.0.0/0', '::/0', '[::1]:51820', 'host.example:51820', '=',
  '#', ',', ',,', '/33', '/129', `${'A'.repeat(43)}=`, `${'/'.repeat(43)}=`, 'constructor', '__proto__', 'DNS = 1.1.1.1',
];

describe(`wg-quick files under hostile input (seed ${SEED.toString(16)})`, () => {
  it(`parses ${COUNT} random and mutated files into a valid WgConf or a CONFIG_INVALID that names the line`, () => {
    const f = new Fuzz(SEED);
    const corpus = Array.from({ length: 64 }, () => validConf(f).text);
    let ok = 0;
    let refused = 0;
    for (let i = 0; i < COUNT; i++) {
      const r = f.rand();
      let text: string;
      let want: ReturnType<typeof validConf>['want'] | undefined;
      if (r < 0.1) text = f.text(300);
      else if (r < 0.3) ({ text, want } = validConf(f));
      else text = f.mutateText(f.pick(corpus), TOKENS, corpus);
      let conf: WgConf;
      try {
        conf = parseWgConf(text, 'wg0.conf');
      } catch (err) {
        if (!(err instanceof WeftError)) throw new Error(`input ${i} threw an untyped ${(err as Error).name}: ${JSON.stringify(text)}`, { cause: err });
        check(err.code === 'CONFIG_INVALID', `input ${i}: code ${err.code}`);
        check(/^wg0\.conf( line \d+: .+|: \[Interface\] needs a PrivateKey)/u.test(err.message), `input ${i}: message does not name the line: ${err.message}`);
        check(want === undefined, `valid input ${i} refused: ${err.message}\n${text}`);
        refused++;
        continue;
      }
      ok++;
      // Whatever parses is well formed.
      check(conf.privateKey.length === 32 && Buffer.compare(conf.publicKey, publicKey(conf.privateKey)) === 0, `input ${i}: keys`);
      check(conf.listenPort === undefined || (Number.isInteger(conf.listenPort) && conf.listenPort >= 0 && conf.listenPort <= 65535), `input ${i}: ListenPort ${conf.listenPort}`);
      check(conf.mtu === undefined || (Number.isInteger(conf.mtu) && conf.mtu >= 576 && conf.mtu <= 65535), `input ${i}: MTU ${conf.mtu}`);
      const keys = new Set<string>();
      for (const p of conf.peers) {
        check(p.publicKey.length === 32 && (p.presharedKey === undefined || p.presharedKey.length === 32), `input ${i}: peer keys`);
        keys.add(b64(p.publicKey));
        check(p.endpoint === undefined || (p.endpoint.port >= 1 && p.endpoint.port <= 65535), `input ${i}: endpoint port`);
        check(Number.isInteger(p.persistentKeepalive) && p.persistentKeepalive >= 0 && p.persistentKeepalive <= 65535, `input ${i}: keepalive`);
        for (const c of p.allowedIps) check(c.bits <= (c.family === 4 ? 32 : 128), `input ${i}: prefix`);
      }
      check(keys.size === conf.peers.length, `input ${i}: duplicate peers accepted`);
      if (want !== undefined) {
        // A valid file parses to exactly what was written.
        const norm = (c: Omit<WgConf, 'publicKey' | 'ignored'>) => JSON.stringify({
          privateKey: b64(c.privateKey), listenPort: c.listenPort, mtu: c.mtu, addresses: c.addresses,
          peers: c.peers.map((p) => [b64(p.publicKey), p.presharedKey && b64(p.presharedKey), p.allowedIps.map(formatCidr), p.endpoint, p.persistentKeepalive]),
        });
        if (norm(conf) !== norm(want)) expect(norm(conf), `input ${i}:\n${text}`).toBe(norm(want));
        check(conf.ignored.length === want.ignored, `input ${i}: ignored keys`);
      }
    }
    expect(ok).toBeGreaterThan(COUNT * 0.2);
    expect(refused).toBeGreaterThan(COUNT * 0.2);
  });
});
