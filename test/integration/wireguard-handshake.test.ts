/**
 * weft's handshake against wireguard-go, an independent implementation, in
 * both roles.
 *
 *   ns "wg" (wireguard-go)                    ns "weft" (test/helpers/wg-handshake-peer.mjs)
 *   ul0 10.99.0.1/24  <------- veth ------->  ul0 10.99.0.2/24
 *   wgXXXX 10.77.0.1/24, listen 51820          inner address 10.77.0.2 (no device: weft builds the packet)
 *
 * The weft side sends a weft-made initiation to 10.99.0.1:51820. wireguard-go
 * only answers an initiation whose MAC1, static and timestamp it could open,
 * and weft only accepts the response if both sides derived the same chaining
 * key, so an accepted response is the interop proof for the handshake. Then
 * an ICMP echo request, sealed with weft's send key, goes to wireguard-go as
 * transport data (counter 0); the kernel behind wireguard-go answers, and the
 * echo reply that comes back must open with weft's receive key. Run once
 * without and once with a preshared key. Then the roles swap: wireguard-go
 * initiates toward a second weft identity (to send a ping), weft consumes
 * the initiation, responds, opens the echo request and seals the reply, and
 * ping in wireguard-go's namespace must see it.
 *
 * Traffic goes only between the two namespaces this test creates.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import type { SandboxProcess } from '../helpers/netns.ts';

const root = requireRoot();
const HELPER = fileURLToPath(new URL('../helpers/wg-handshake-peer.mjs', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/src/wireguard/noise.js', import.meta.url));
// /var/run/wireguard/<name>.sock is shared by every namespace, so the name must be unique per run.
const IFNAME = `wgw${process.pid % 100_000}`;
const WG_IP = '10.99.0.1';
const WEFT_IP = '10.99.0.2';

describe.skipIf(!root)('WireGuard handshake: weft initiator <-> wireguard-go responder', () => {
  const sb = new NetnsSandbox();
  const dir = mkdtempSync(join(tmpdir(), 'weft-wg-interop-'));
  let nsWg = '';
  let nsWeft = '';
  let wgGo: SandboxProcess | undefined;
  const weftPriv = generateKeyText();
  const weftPub = publicKeyText(weftPriv);
  let wgPub = '';

  async function runWeft(psk: string): Promise<Array<Record<string, unknown>>> {
    const r = await sb.exec(nsWeft, ['node', HELPER, 'initiate', weftPriv, wgPub, psk, WG_IP, '51820', '10.77.0.2', '10.77.0.1'], { timeoutMs: 20_000 });
    const lines = r.stdout.trim().split('\n').filter((l) => l.startsWith('{'));
    const steps = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    if (r.code !== 0) throw new Error(`weft side failed (${r.code ?? r.signal}): ${r.stdout.trim()} ${r.stderr.trim()}\nwireguard-go: ${wgGo?.stderr() ?? ''}`);
    return steps;
  }

  async function transfer(): Promise<{ rx: number; tx: number }> {
    const out = await sb.run(nsWg, ['wg', 'show', IFNAME, 'transfer']);
    const [, rx, tx] = out.trim().split(/\s+/u);
    return { rx: Number(rx), tx: Number(tx) };
  }

  beforeAll(async () => {
    if (!existsSync(BUILT)) {
      throw new Error(`${BUILT} is missing: the weft side runs compiled code. Build it first: npx tsc -p tsconfig.build.json (npm test does)`);
    }
    nsWg = await sb.create();
    nsWeft = await sb.create();
    await sb.veth(nsWg, 'ul0', nsWeft, 'ul0');
    await sb.run(nsWg, ['ip', 'addr', 'add', `${WG_IP}/24`, 'dev', 'ul0']);
    await sb.run(nsWeft, ['ip', 'addr', 'add', `${WEFT_IP}/24`, 'dev', 'ul0']);

    // wireguard-go's key from wg itself; its public key through weft, cross-checked with `wg pubkey`.
    const wgPriv = (await sb.run(nsWg, ['wg', 'genkey'])).trim();
    wgPub = publicKeyText(wgPriv);
    expect((await sb.run(nsWg, ['wg', 'pubkey'], { input: `${wgPriv}\n` })).trim()).toBe(wgPub);
    writeFileSync(join(dir, 'wg.key'), `${wgPriv}\n`, { mode: 0o600 });

    wgGo = sb.spawn(nsWg, ['env', 'WG_PROCESS_FOREGROUND=1', 'wireguard-go', IFNAME]);
    // wireguard-go is ready once its UAPI socket answers.
    for (let i = 0; ; i++) {
      if ((await sb.exec(nsWg, ['wg', 'show', IFNAME])).code === 0) break;
      if (i > 50) throw new Error(`wireguard-go did not come up: ${wgGo.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await sb.run(nsWg, ['wg', 'set', IFNAME, 'private-key', join(dir, 'wg.key'), 'listen-port', '51820', 'peer', weftPub, 'allowed-ips', '10.77.0.2/32']);
    await sb.run(nsWg, ['ip', 'addr', 'add', '10.77.0.1/24', 'dev', IFNAME]);
    await sb.run(nsWg, ['ip', 'link', 'set', IFNAME, 'up']);
  });

  afterAll(async () => {
    await sb.destroy();
    // SIGKILL leaves wireguard-go's UAPI socket behind.
    rmSync(`/var/run/wireguard/${IFNAME}.sock`, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('wireguard-go accepts a weft initiation and weft accepts its response; data flows both ways', async () => {
    const before = await transfer();
    const steps = await runWeft('-');
    expect(steps.find((s) => s.step === 'response')).toEqual({ step: 'response', verdict: 'ok' });
    expect(steps.find((s) => s.step === 'echo-reply')).toMatchObject({ ok: true, src: '10.77.0.1', dst: '10.77.0.2', icmpType: 0 });
    const after = await transfer();
    // wireguard-go counts the decrypted data it received (our echo request) and what it sent back.
    expect(after.rx).toBeGreaterThan(before.rx);
    expect(after.tx).toBeGreaterThan(before.tx);
    const hs = (await sb.run(nsWg, ['wg', 'show', IFNAME, 'latest-handshakes'])).trim().split(/\s+/u);
    expect(hs[0]).toBe(weftPub);
    expect(Number(hs[1])).toBeGreaterThan(0);
  });

  it('does the same with a preshared key on both sides', async () => {
    const psk = generateKeyText();
    writeFileSync(join(dir, 'psk'), `${psk}\n`, { mode: 0o600 });
    await sb.run(nsWg, ['wg', 'set', IFNAME, 'peer', weftPub, 'preshared-key', join(dir, 'psk')]);
    const steps = await runWeft(psk);
    expect(steps.find((s) => s.step === 'response')).toEqual({ step: 'response', verdict: 'ok' });
    expect(steps.find((s) => s.step === 'echo-reply')).toMatchObject({ ok: true });
  });

  it('with mismatched preshared keys, weft refuses wireguard-go\'s response', async () => {
    // wireguard-go still holds the PSK from the previous case; weft uses none.
    const r = await sb.exec(nsWeft, ['node', HELPER, 'initiate', weftPriv, wgPub, '-', WG_IP, '51820', '10.77.0.2', '10.77.0.1'], { timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('"verdict":"decrypt-failed"');
  });

  it('weft answers wireguard-go\'s initiation, and a ping from wireguard-go\'s side gets weft\'s reply', async () => {
    // A second weft identity, so wireguard-go has no session with it and must initiate.
    const priv = generateKeyText();
    const pub = publicKeyText(priv);
    const psk = generateKeyText();
    writeFileSync(join(dir, 'psk2'), `${psk}\n`, { mode: 0o600 });
    const weft = sb.spawn(nsWeft, ['node', HELPER, 'respond', priv, wgPub, psk, '51821']);
    await weft.waitFor('"listening"', 10_000);
    await sb.run(nsWg, ['wg', 'set', IFNAME, 'peer', pub, 'preshared-key', join(dir, 'psk2'), 'endpoint', `${WEFT_IP}:51821`, 'allowed-ips', '10.77.0.3/32']);
    // wireguard-go initiates to send the echo request; weft answers the echo inside the tunnel.
    const ping = await sb.exec(nsWg, ['ping', '-c', '1', '-W', '5', '10.77.0.3'], { timeoutMs: 10_000 });
    const done = await weft.exited;
    const steps = weft.stdout().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(steps, weft.stderr()).toContainEqual({ step: 'initiation', verdict: 'ok' });
    expect(steps).toContainEqual({ step: 'data', counter: 0, src: '10.77.0.1', dst: '10.77.0.3', isEcho: true });
    expect(done.code).toBe(0);
    expect(ping.code, ping.stdout + ping.stderr).toBe(0);
    expect(ping.stdout).toMatch(/1 received/u);
  });
});
