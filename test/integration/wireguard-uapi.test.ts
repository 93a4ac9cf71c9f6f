/**
 * The real wg(8) tool talking to weft's UAPI socket: `wg show` reads the
 * state weft reports, `wg set` changes land as parsed changes. The device
 * behind the socket is a recording stand-in, so this tests the protocol
 * itself; the backend's own state is tested with the backend.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeKey, encodeKey } from '../../src/crypto/keys.ts';
import { parseCidr } from '../../src/wire/addr.ts';
import type { UapiChange, UapiDeviceState } from '../../src/wireguard/uapi.ts';
import { UapiServer } from '../../src/wireguard/uapi-server.ts';
import { requireRoot } from '../helpers/netns.ts';

const root = requireRoot();
// Asynchronous on purpose: the UAPI server answering wg lives in this process's event loop.
const wg = async (...args: string[]) => (await promisify(execFile)('wg', args, { encoding: 'utf8', timeout: 10_000 })).stdout;
const iface = `wtu${process.pid % 100000}`;
const priv = decodeKey('WAmgVYXkbT2bCtdcDwolI88/iVi/aV3/PHcUBTQSYmo=', 'key');
const peerPub = decodeKey('xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=', 'key');
const now = Date.now();

describe.skipIf(!root)('UAPI against the real wg tool', () => {
  const changes: UapiChange[] = [];
  const state: UapiDeviceState = {
    privateKey: priv,
    listenPort: 51820,
    fwmark: 0,
    peers: [
      {
        publicKey: peerPub,
        presharedKey: undefined,
        endpoint: { address: '10.99.0.2', port: 51821 },
        lastHandshakeMs: now - 5000,
        txBytes: 123456,
        rxBytes: 654321,
        persistentKeepalive: 25,
        allowedIps: [parseCidr('10.244.2.0/24'), parseCidr('fd77::/64')],
      },
    ],
  };
  let server: UapiServer;

  beforeAll(async () => {
    server = await UapiServer.listen(iface, {
      state: () => state,
      apply: (c) => {
        changes.push(c);
        return 0;
      },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('wg show dump reads keys, port, endpoint, handshake time, counters and allowed IPs', async () => {
    const dump = (await wg('show', iface, 'dump')).trim().split('\n');
    expect(dump[0]!.split('\t')).toEqual([encodeKey(priv), expect.any(String), '51820', 'off']);
    const fields = dump[1]!.split('\t');
    expect(fields[0]).toBe(encodeKey(peerPub));
    expect(fields[1]).toBe('(none)');
    expect(fields[2]).toBe('10.99.0.2:51821');
    expect(fields[3]).toBe('10.244.2.0/24,fd77::/64');
    expect(Number(fields[4])).toBe(Math.floor((now - 5000) / 1000));
    expect(fields.slice(5)).toEqual(['654321', '123456', '25']);
  });

  it('wg show prints the familiar human view', async () => {
    const out = await wg('show', iface);
    expect(out).toContain(`interface: ${iface}`);
    expect(out).toContain('listening port: 51820');
    expect(out).toContain(`peer: ${encodeKey(peerPub)}`);
    expect(out).toMatch(/latest handshake: \d+ seconds? ago/u);
    expect(out).toMatch(/transfer: 638\.99 KiB received, 120\.56 KiB sent/u);
  });

  it('wg set arrives as a parsed change', async () => {
    const other = decodeKey('HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=', 'key');
    await wg('set', iface, 'listen-port', '51999', 'peer', encodeKey(other), 'allowed-ips', '10.244.9.0/24', 'endpoint', '[fd00::9]:5000', 'persistent-keepalive', '15');
    const c = changes.at(-1)!;
    expect(c.listenPort).toBe(51999);
    expect(c.peers).toHaveLength(1);
    expect(Buffer.from(c.peers[0]!.publicKey)).toEqual(Buffer.from(other));
    expect(c.peers[0]!.endpoint).toEqual({ address: 'fd00::9', port: 5000 });
    expect(c.peers[0]!.persistentKeepalive).toBe(15);
    expect(c.peers[0]!.allowedIps.map((x) => x.bits)).toEqual([24]);
    await wg('set', iface, 'peer', encodeKey(other), 'remove');
    expect(changes.at(-1)!.peers[0]!.remove).toBe(true);
  });

  it('a second server on the same interface name is refused while the first lives', async () => {
    await expect(UapiServer.listen(iface, { state: () => state, apply: () => 0 })).rejects.toThrow(/is served by another process/u);
    expect((await wg('show', iface, 'listen-port')).trim()).toBe('51820');
  });
});
