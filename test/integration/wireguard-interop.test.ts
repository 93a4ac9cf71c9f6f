/**
 * weft's WireGuard backend against Debian's wireguard-go, configured with
 * wg(8): node-a runs `weft up` with the wireguard backend, node-b runs
 * wireguard-go. Pods ping each other and move 20 MB over TCP both ways
 * (sha256); wg show reads both sides; a captured data packet replayed to
 * weft is dropped and counted, as is a forged initiation; traffic survives
 * a wireguard-go restart, the peer moving to a new address, and rekeying
 * under shortened timers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { ping, sendUdp, startWeft, twoNodes, weftStatus } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';
import { expectTcpIntact } from '../helpers/overlay-checks.ts';
import { captureDuring } from '../helpers/pcap.ts';
import { startWireguardGo } from '../helpers/wireguard-go.ts';
import type { WireguardGo } from '../helpers/wireguard-go.ts';

const root = requireRoot();
const MB20 = 20 * 1024 * 1024;
// Interface names are per namespace, but wg(8)'s sockets in /var/run/wireguard are shared: make them unique.
const id = process.pid % 100000;
const WEFT_TUN = `wft${id}`;
const WGGO_IF = `wgg${id}`;

describe.skipIf(!root)('WireGuard: weft <-> wireguard-go', () => {
  const sb = new NetnsSandbox();
  const dir = mkdtempSync(join(tmpdir(), 'weft-wg-interop-'));
  const weftPriv = generateKeyText();
  const goPriv = generateKeyText();
  let nodes: TwoNodes;
  let weft: WeftProcess;
  let wggo: WireguardGo;

  const weftConfig = (extra: Record<string, unknown> = {}) => ({
    backend: 'wireguard',
    tun: { name: WEFT_TUN },
    wireguard: { privateKey: weftPriv, ...extra },
  });
  const weftPeers = () => [{ name: nodes.b.name, endpoint: `${nodes.b.underlayIp}:51820`, subnet: nodes.b.subnet, publicKey: publicKeyText(goPriv) }];
  const startGo = () =>
    startWireguardGo(sb, nodes.b, WGGO_IF, goPriv, { publicKey: publicKeyText(weftPriv), endpoint: `${nodes.a.underlayIp}:51820`, allowedIps: nodes.a.subnet });

  beforeAll(async () => {
    nodes = await twoNodes(sb, 1420);
    weft = await startWeft(sb, nodes.a, weftPeers(), weftConfig());
    wggo = await startGo();
  });

  afterAll(async () => {
    // SIGTERM before the sandbox's SIGKILL: wireguard-go and weft remove their
    // UAPI sockets only on a clean exit, and /var/run/wireguard is shared by
    // every namespace, so a killed one's socket outlives the test. Whatever a
    // failed stop still leaves, the names are this run's own: remove them.
    // Either is unset when beforeAll failed before starting it.
    await (wggo as WireguardGo | undefined)?.stop();
    await (weft as WeftProcess | undefined)?.stop();
    await sb.destroy();
    for (const name of [WEFT_TUN, WGGO_IF]) rmSync(`/var/run/wireguard/${name}.sock`, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('announces its public key, the MTU of the underlay minus 60 bytes, and OpenSSL sealing its transport data', async () => {
    // Every exchange with wireguard-go below is then OpenSSL's AEAD against Go's.
    expect(weft.ready).toMatchObject({ backend: 'wireguard', tun: WEFT_TUN, mtu: 1440, publicKey: publicKeyText(weftPriv), listenPort: 51820, aead: 'openssl' });
    expect((await weftStatus(weft)).node).toMatchObject({ aead: `ChaCha20-Poly1305 by OpenSSL ${process.versions.openssl}` });
  });

  it('weft initiates: pod a pings pod b, and back', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
  });

  it('moves 20 MB over TCP from the weft pod to the wireguard-go pod, byte for byte', () => expectTcpIntact(sb, nodes.a, nodes.b, MB20));

  it('moves 20 MB over TCP from the wireguard-go pod to the weft pod, byte for byte', () => expectTcpIntact(sb, nodes.b, nodes.a, MB20, 5202));

  it('wg show reads weft (through its UAPI socket) and wireguard-go, each listing the other with a recent handshake', async () => {
    const now = Date.now() / 1000;
    const weftDump = (await sb.run(nodes.a.ns, ['wg', 'show', WEFT_TUN, 'dump'])).trim().split('\n');
    expect(weftDump[0]!.split('\t').slice(0, 3)).toEqual([weftPriv, publicKeyText(weftPriv), '51820']);
    const peer = weftDump[1]!.split('\t');
    expect(peer[0]).toBe(publicKeyText(goPriv));
    expect(peer[2]).toBe('10.99.0.2:51820');
    expect(peer[3]).toBe('10.244.2.0/24');
    expect(now - Number(peer[4])).toBeLessThan(60);
    expect(Number(peer[5])).toBeGreaterThan(MB20); // received
    expect(Number(peer[6])).toBeGreaterThan(MB20); // sent
    const human = await sb.run(nodes.a.ns, ['wg', 'show', WEFT_TUN]);
    expect(human).toMatch(/latest handshake: \d+ seconds? ago|latest handshake: Now/u);
    const goDump = (await sb.run(nodes.b.ns, ['wg', 'show', WGGO_IF, 'latest-handshakes'])).trim().split('\t');
    expect(goDump[0]).toBe(publicKeyText(weftPriv));
    expect(now - Number(goDump[1])).toBeLessThan(60);
  });

  it('drops and counts a replayed data packet and ignores an initiation with a bad MAC1', async () => {
    const file = join(dir, 'data.pcap');
    // A transport data message (type 4) from wireguard-go to weft, larger than a keepalive.
    const filter = 'udp and src host 10.99.0.2 and dst host 10.99.0.1 and udp[8] = 4 and udp[4:2] > 48';
    const { frames } = await captureDuring(sb, nodes.b.ns, file, 1, filter, async () => expect(await ping(sb, nodes.a.podNs, nodes.b.podIp, 2)).toBe(2));
    const frame = frames[0]!.data;
    const payload = frame.subarray(14 + 20 + 8);
    expect(payload[0]).toBe(4);
    const before = (await weftStatus(weft)).drops as Record<string, number>;
    await sendUdp(sb, nodes.b.ns, '10.99.0.1', 51820, payload);
    const forged = new Uint8Array(148);
    forged[0] = 1;
    for (let i = 4; i < 148; i++) forged[i] = (i * 37) & 0xff;
    await sendUdp(sb, nodes.b.ns, '10.99.0.1', 51820, forged);
    await new Promise((r) => setTimeout(r, 200));
    const after = (await weftStatus(weft)).drops as Record<string, number>;
    expect(after.data_replay! - before.data_replay!).toBe(1);
    expect(after.bad_mac1! - before.bad_mac1!).toBe(1);
    // The session is unharmed.
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp, 2)).toBe(2);
  });

  it('traffic resumes after wireguard-go restarts and initiates afresh', async () => {
    await wggo.stop();
    wggo = await startGo();
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp, 3)).toBeGreaterThanOrEqual(2);
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp, 3)).toBe(3);
  });

  it('follows wireguard-go to a new underlay address (roaming)', async () => {
    // Delete first: deleting a primary address also deletes its secondaries.
    await sb.run(nodes.b.ns, ['ip', 'addr', 'del', '10.99.0.2/24', 'dev', 'ul0']);
    await sb.run(nodes.b.ns, ['ip', 'addr', 'add', '10.99.0.5/24', 'dev', 'ul0']);
    // wireguard-go pins the source address it last used and sends nothing once it
    // is gone; re-setting its endpoint clears that, and it carries on with the
    // same session from 10.99.0.5. weft must follow on authenticated data alone.
    await sb.run(nodes.b.ns, ['wg', 'set', WGGO_IF, 'peer', publicKeyText(weftPriv), 'endpoint', `${nodes.a.underlayIp}:51820`]);
    const handshakesBefore = ((await weftStatus(weft)).handshakes as { completed: number }).completed;
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp, 3)).toBeGreaterThanOrEqual(2);
    const endpoints = await sb.run(nodes.a.ns, ['wg', 'show', WEFT_TUN, 'endpoints']);
    expect(endpoints).toContain('10.99.0.5:51820');
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp, 3)).toBe(3);
    // It roamed on data: no new handshake was needed.
    expect(((await weftStatus(weft)).handshakes as { completed: number }).completed).toBe(handshakesBefore);
  });

  it('rekeys under shortened timers without breaking a flow, and stops cleanly', async () => {
    expect(await weft.stop()).toBe(0);
    // Timers at 1/50: REKEY_AFTER_TIME 2.4 s, REJECT_AFTER_TIME 3.6 s.
    weft = await startWeft(sb, nodes.a, [{ ...weftPeers()[0]!, endpoint: '10.99.0.5:51820' }], weftConfig({ timeScale: 0.02 }));
    const r = await sb.exec(nodes.a.podNs, ['ping', '-c', '80', '-i', '0.1', '-W', '1', nodes.b.podIp], { timeoutMs: 20_000 });
    const received = Number(/(\d+) received/u.exec(r.stdout)?.[1] ?? 0);
    const status = await weftStatus(weft);
    const handshakes = status.handshakes as { completed: number };
    expect(handshakes.completed).toBeGreaterThanOrEqual(3); // the first and at least two rekeys in 8 s
    expect(received).toBeGreaterThanOrEqual(78);
    expect(await weft.stop()).toBe(0);
    const links = await sb.run(nodes.a.ns, ['ip', '-o', 'link', 'show']);
    expect(links).not.toContain(WEFT_TUN);
  });
});
