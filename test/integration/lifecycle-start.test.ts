/**
 * `weft up` start and stop leave nothing behind: every check runs before the
 * first side effect (no key file, no device for a config that fails), a
 * failed start and a clean stop remove subnet.env and the sockets, a SIGTERM
 * at any moment of start-up unwinds and exits 0, and a clash with what runs
 * here already (a second node in the namespace, an unusable state
 * directory, an MTU the underlay cannot carry) is a clear error naming the
 * config field.
 */
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../src/transport/control-client.ts';
import { generateKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import type { SandboxProcess } from '../helpers/netns.ts';
import { twoNodes, waitForLog, weftMain } from '../helpers/cluster.ts';
import type { OverlayNode, TwoNodes } from '../helpers/cluster.ts';

const root = requireRoot();
const id = process.pid % 100000;
const TUN = `wls${id}`;
const uapiSock = (name: string) => `/var/run/wireguard/${name}.sock`;

interface Files {
  config: string;
  control: string;
  subnetEnv: string;
  stateDir: string;
}

describe.skipIf(!root)('weft up: start and stop leave nothing behind', () => {
  const sb = new NetnsSandbox();
  const dir = mkdtempSync(join(tmpdir(), 'weft-lifecycle-'));
  let nodes: TwoNodes;
  let count = 0;

  beforeAll(async () => {
    nodes = await twoNodes(sb);
  });

  afterAll(async () => {
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
    for (const n of [TUN, `${TUN}b`]) rmSync(uapiSock(n), { force: true });
  });

  /** Paths of one `weft up` run, all in the test's own directory. */
  function files(): Files {
    const n = count++;
    return { config: join(dir, `n${n}.json`), control: join(dir, `n${n}.sock`), subnetEnv: join(dir, `n${n}.env`), stateDir: join(dir, `n${n}.state`) };
  }

  function spawnUp(n: OverlayNode, f: Files, extra: Record<string, unknown>, wrap: string[] = []): SandboxProcess {
    const cfg = { name: n.name, underlay: { address: n.underlayIp }, subnet: n.subnet, controlSocket: f.control, subnetEnv: f.subnetEnv, stateDir: f.stateDir, metrics: { listen: 'off' }, ...extra };
    writeFileSync(f.config, JSON.stringify(cfg, null, 2));
    return sb.spawn(n.ns, [...wrap, process.execPath, weftMain(), 'up', '--config', f.config]);
  }

  /** Wait (bounded) for the process to exit. */
  async function exitOf(p: SandboxProcess, ms = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const r = await Promise.race([p.exited, new Promise<null>((res) => setTimeout(() => res(null), ms))]);
    if (r === null) {
      await p.kill();
      throw new Error(`weft up did not exit within ${ms} ms; stderr:\n${p.stderr()}`);
    }
    return r;
  }

  async function failedStart(n: OverlayNode, f: Files, extra: Record<string, unknown>, wrap: string[] = []): Promise<{ code: string; error: string }> {
    const p = spawnUp(n, f, extra, wrap);
    const { code } = await exitOf(p);
    expect(code, p.stderr()).toBe(1);
    return (await waitForLog(p, 'start failed', 1000)) as { code: string; error: string };
  }

  async function assertNothingLeft(n: OverlayNode, f: Files, tun: string): Promise<void> {
    expect(existsSync(f.subnetEnv), 'subnet.env').toBe(false);
    expect(existsSync(f.control), 'control socket').toBe(false);
    expect(existsSync(uapiSock(tun)), 'UAPI socket').toBe(false);
    expect(await sb.run(n.ns, ['ip', '-o', 'link', 'show'])).not.toContain(tun);
    expect((await sb.run(n.ns, ['ip', 'route', 'show', '10.244.0.0/16'])).trim()).toBe('');
  }

  const wireguard = () => ({ backend: 'wireguard', tun: { name: TUN }, wireguard: { privateKey: generateKeyText() } });

  it('a clean stop removes subnet.env and both sockets', async () => {
    const f = files();
    const p = spawnUp(nodes.a, f, wireguard());
    await waitForLog(p, 'ready', 15_000);
    expect(lstatSync(f.subnetEnv).mode & 0o777).toBe(0o644);
    expect(existsSync(uapiSock(TUN))).toBe(true);
    p.child.kill('SIGTERM');
    expect(await exitOf(p)).toEqual({ code: 0, signal: null });
    await assertNothingLeft(nodes.a, f, TUN);
  });

  it('a start that fails at its last step (metrics port taken) removes subnet.env, the sockets and the device', async () => {
    const holder = sb.spawn(nodes.a.ns, [process.execPath, '-e', "require('net').createServer().listen(9599,'127.0.0.1',()=>console.log('listening'))"]);
    await holder.waitFor('listening', 5000);
    try {
      const f = files();
      const failed = await failedStart(nodes.a, f, { ...wireguard(), metrics: { listen: '127.0.0.1:9599' } });
      expect(failed.code).toBe('PORT_IN_USE');
      expect(failed.error).toMatch(/metrics.listen/u);
      await assertNothingLeft(nodes.a, f, TUN);
    } finally {
      await holder.kill();
    }
  });

  it('SIGTERM at any moment of start-up exits 0 and leaves nothing', async () => {
    // How long a whole start takes here, then signals spread over that time.
    const f0 = files();
    const t0 = Date.now();
    const first = spawnUp(nodes.a, f0, wireguard());
    await waitForLog(first, 'ready', 15_000);
    const startMs = Date.now() - t0;
    first.child.kill('SIGTERM');
    expect((await exitOf(first)).code).toBe(0);
    for (let k = 1; k <= 6; k++) {
      const f = files();
      const p = spawnUp(nodes.a, f, wireguard());
      await new Promise((r) => setTimeout(r, Math.round((startMs * k) / 6)));
      p.child.kill('SIGTERM');
      const exit = await exitOf(p);
      // Only before Node has run weft's first line can the default action still kill it; then nothing was made.
      if (exit.signal !== 'SIGTERM') expect(exit, p.stderr()).toEqual({ code: 0, signal: null });
      await assertNothingLeft(nodes.a, f, TUN);
    }
  });

  it('SIGTERM while gossip waits for the cluster unwinds the start and exits 0', async () => {
    const f = files();
    // A seed that never answers: start-up waits for it (over 3 s) with the gossip socket open.
    const p = spawnUp(nodes.a, f, { ...wireguard(), subnet: undefined, gossip: { seeds: ['10.99.0.2:7946'], clusterKey: generateKeyText() } });
    const deadline = Date.now() + 15_000;
    while (!(await sb.run(nodes.a.ns, ['ss', '-Huln', 'sport', '=', ':7946'])).includes('7946') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    p.child.kill('SIGTERM');
    expect(await exitOf(p), p.stderr()).toEqual({ code: 0, signal: null });
    expect(p.stderr()).toMatch(/"msg":"(stopped during start-up|stopping)"/u);
    await assertNothingLeft(nodes.a, f, TUN);
    expect(await sb.run(nodes.a.ns, ['ss', '-Huln'])).not.toContain(':7946');
  });

  it('SIGHUP during start-up neither kills the node nor is lost: it reloads once started', async () => {
    const f = files();
    const p = spawnUp(nodes.a, f, { ...wireguard(), subnet: undefined, gossip: { seeds: ['10.99.0.2:7946'], clusterKey: generateKeyText() } });
    const deadline = Date.now() + 15_000;
    while (!(await sb.run(nodes.a.ns, ['ss', '-Huln', 'sport', '=', ':7946'])).includes('7946') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    p.child.kill('SIGHUP');
    await waitForLog(p, 'ready', 15_000);
    await waitForLog(p, 'peers reloaded', 5000);
    p.child.kill('SIGTERM');
    expect(await exitOf(p)).toEqual({ code: 0, signal: null });
    await assertNothingLeft(nodes.a, f, TUN);
  });

  it('a config that fails a check creates nothing, not even the generated key: tun.mtu over the underlay', async () => {
    const f = files();
    const failed = await failedStart(nodes.a, f, { backend: 'wireguard', tun: { name: TUN, mtu: 9000 } });
    expect(failed.code).toBe('CONFIG_INVALID');
    expect(failed.error).toBe('config field "tun.mtu": 9000 + 60 bytes of WireGuard overhead (IPv4 underlay) exceeds the underlay MTU 1500 of ul0; set tun.mtu to 1440 or less, or leave it unset to derive it');
    expect(existsSync(f.stateDir)).toBe(false);
    await assertNothingLeft(nodes.a, f, TUN);
  });

  it('reads the real MTU of the underlay interface', async () => {
    await sb.run(nodes.a.ns, ['ip', 'link', 'set', 'ul0', 'mtu', '1400']);
    try {
      const f = files();
      const failed = await failedStart(nodes.a, f, {});
      expect(failed.error).toMatch(/^config field "underlay.mtu": 1500 exceeds the MTU 1400 of ul0, which holds 10.99.0.1; set underlay.mtu to 1400/u);
    } finally {
      await sb.run(nodes.a.ns, ['ip', 'link', 'set', 'ul0', 'mtu', '1500']);
    }
  });

  it('a read-only state directory is named as such', async () => {
    const f = files();
    const ro = join(dir, 'ro');
    // A read-only tmpfs in a mount namespace of weft's own: nothing to clean up on the host.
    const wrap = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mkdir -p ${ro} && mount -t tmpfs -o ro weft-ro ${ro} && exec "$@"`, 'sh'];
    const failed = await failedStart(nodes.a, f, { backend: 'wireguard', tun: { name: TUN }, stateDir: join(ro, 'state') }, wrap);
    expect(failed.code).toBe('STATE_DIR_UNUSABLE');
    expect(failed.error).toMatch(/^config field "stateDir": .*\/ro\/state cannot be created: its parent .*\/ro is on a read-only filesystem; .*set stateDir to a writable directory/u);
  });

  it('a state directory under /proc is refused at once', async () => {
    const f = files();
    const failed = await failedStart(nodes.a, f, { backend: 'wireguard', tun: { name: TUN }, stateDir: '/proc/weft' });
    expect(failed.code).toBe('STATE_DIR_UNUSABLE');
    expect(failed.error).toMatch(/^config field "stateDir": \/proc\/weft is under \/proc, a kernel filesystem/u);
  });

  it('a second node in the same namespace is told what clashes, and the first keeps running', async () => {
    const fa = files();
    const a = spawnUp(nodes.a, fa, {});
    await waitForLog(a, 'ready', 15_000);
    try {
      const fb = files();
      const sameTun = await failedStart(nodes.a, fb, { name: 'node-x', vxlan: { port: 8473 } });
      expect(sameTun.code).toBe('TUN_NAME_TAKEN');
      expect(sameTun.error).toBe('config field "tun.name": a device named weft0 exists in this network namespace already (another weft node?); stop that node, or set tun.name to another name');
      const sameRoute = await failedStart(nodes.a, files(), { name: 'node-x', vxlan: { port: 8473 }, tun: { name: `${TUN}b` } });
      expect(sameRoute.code).toBe('ROUTE_EXISTS');
      expect(sameRoute.error).toMatch(/^config field "clusterCidr": this network namespace already routes 10.244.0.0\/16 \(dev weft0; another weft node\?\)/u);
      expect(await request(fa.control, 'status')).toMatchObject({ node: { name: 'node-a', tun: 'weft0' } });
      expect(existsSync(fa.subnetEnv)).toBe(true);
    } finally {
      a.child.kill('SIGTERM');
      expect((await exitOf(a)).code).toBe(0);
    }
  });
});
