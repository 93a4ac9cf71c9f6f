/**
 * weft to weft over the WireGuard backend: both nodes run `weft up`; pods
 * ping each other and move 20 MB over TCP both ways, checked by sha256.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { ping, startWeft, twoNodes, weftMain, weftStatus } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';
import { expectTcpIntact } from '../helpers/overlay-checks.ts';

const root = requireRoot();
const MB20 = 20 * 1024 * 1024;
const id = process.pid % 100000;

describe.skipIf(!root)('WireGuard: weft <-> weft', () => {
  const sb = new NetnsSandbox();
  const keys = { a: generateKeyText(), b: generateKeyText() };
  const dir = mkdtempSync(join(tmpdir(), 'weft-wg-weft-'));
  const confPath = join(dir, 'wg0.conf');
  let nodes: TwoNodes;
  let wa: WeftProcess;
  let wb: WeftProcess;

  beforeAll(async () => {
    nodes = await twoNodes(sb, 1420);
    const { a, b } = nodes;
    wa = await startWeft(sb, a, [{ name: b.name, endpoint: `${b.underlayIp}:51820`, subnet: b.subnet, publicKey: publicKeyText(keys.b) }], {
      backend: 'wireguard',
      tun: { name: `wfa${id}` },
      wireguard: { privateKey: keys.a },
    });
    // b reads a wg-quick file, as a WireGuard user's existing one: a's key and allowed IPs,
    // no endpoint. a must initiate, and b learns where a is from it.
    writeFileSync(confPath, `[Interface]\nPrivateKey = ${keys.b}\nListenPort = 51820\nAddress = 10.244.2.0/32\n\n[Peer]\nPublicKey = ${publicKeyText(keys.a)}\nAllowedIPs = ${a.subnet}\n`);
    wb = await startWeft(sb, b, [], { backend: 'wireguard', tun: { name: `wfb${id}` }, wireguard: { configFile: confPath } });
  });

  afterAll(async () => {
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a peer without an endpoint learns it from the initiator; pods ping both ways', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
    const peers = (await weftStatus(wb)).peers as Array<{ endpoint: string }>;
    expect(peers[0]!.endpoint).toBe(`${nodes.a.underlayIp}:51820`);
  });

  it('moves 20 MB over TCP each way, byte for byte', async () => {
    await expectTcpIntact(sb, nodes.a, nodes.b, MB20);
    await expectTcpIntact(sb, nodes.b, nodes.a, MB20, 5202);
  });

  it('counts one completed handshake on each side and no drops', async () => {
    const sa = await weftStatus(wa);
    const sb2 = await weftStatus(wb);
    expect((sa.handshakes as { completed: number }).completed).toBe(1);
    expect((sb2.handshakes as { completed: number }).completed).toBe(1);
    for (const s of [sa, sb2]) {
      const drops = Object.entries(s.drops as Record<string, number>).filter(([, n]) => n > 0);
      expect(drops).toEqual([]);
    }
  });

  it('weft status shows the peer\'s key, latest handshake and transfer', async () => {
    const human = await sb.run(nodes.a.ns, [process.execPath, weftMain(), 'status', '--socket', wa.controlSocket]);
    expect(human).toContain(`public key: ${publicKeyText(keys.a)}`);
    expect(human).toContain(`peer: node-b\n  backend: wireguard\n  public key: ${publicKeyText(keys.b)}`);
    expect(human).toMatch(/latest handshake: (Now|\d+ seconds? ago)/u);
    expect(human).toMatch(/transfer: [\d.]+ MiB received, [\d.]+ MiB sent/u);
  });

  it('wg set changes the running backend, and wg show reflects it', async () => {
    const tun = `wfa${id}`;
    const other = publicKeyText(generateKeyText());
    await sb.run(nodes.a.ns, ['wg', 'set', tun, 'peer', publicKeyText(keys.b), 'persistent-keepalive', '7']);
    await sb.run(nodes.a.ns, ['wg', 'set', tun, 'peer', other, 'allowed-ips', '10.244.9.0/24', 'endpoint', '10.99.0.9:51820']);
    const keepalives = await sb.run(nodes.a.ns, ['wg', 'show', tun, 'persistent-keepalive']);
    expect(keepalives).toContain(`${publicKeyText(keys.b)}\t7`);
    expect(await sb.run(nodes.a.ns, ['wg', 'show', tun, 'allowed-ips'])).toContain(`${other}\t10.244.9.0/24`);
    // The existing session is untouched by the change.
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp, 2)).toBe(2);
    await sb.run(nodes.a.ns, ['wg', 'set', tun, 'peer', other, 'remove']);
    expect(await sb.run(nodes.a.ns, ['wg', 'show', tun, 'peers'])).not.toContain(other);
    // What weft cannot change at run time is refused, not half applied.
    const r = await sb.exec(nodes.a.ns, ['wg', 'set', tun, 'listen-port', '40000']);
    expect(r.code).not.toBe(0);
  });

  it('both stop cleanly', async () => {
    expect(await wa.stop()).toBe(0);
    expect(await wb.stop()).toBe(0);
  });
});
