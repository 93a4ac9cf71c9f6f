/**
 * weft-cni on an IPv6-only node, driven as a runtime drives it (the
 * installed wrapper, only CNI_* in its environment, the host side in a
 * "node" namespace): subnet.env carries Flannel's IPv6 pair alone, and every
 * container gets an IPv6 address and nothing IPv4: the bridge holds the IPv6
 * gateway alone, the container the IPv6 cluster and default routes, and the
 * result lists them, compared byte for byte. MACs come from the low 32 bits
 * of the IPv6 addresses. CHECK, DEL and STATUS cover it.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledWeft } from '../../scripts/lab/paths.ts';
import { runOk } from '../../scripts/lab/netns.ts';
import { hostVethName } from '../../src/cni/attach.ts';
import { runPlugin } from '../helpers/cni.ts';
import type { PluginCall } from '../helpers/cni.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';

const root = requireRoot();
/** As weft writes it for an IPv6-only node (src/cli/subnet-env.ts). */
const SUBNET_ENV = 'FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n';
const ROUTES6 = '{"dst":"fd00:10:244::/56","gw":"fd00:10:244:1::1"},{"dst":"::/0","gw":"fd00:10:244:1::1"}';

describe.skipIf(!root)('weft-cni on an IPv6-only node', () => {
  const sb = new NetnsSandbox('w6');
  let dir: string;
  let plugin: string;
  let node: string;
  const net = (version = '1.1.0', extra: Record<string, unknown> = {}) => ({ cniVersion: version, name: 'w6net', type: 'weft', subnetEnv: join(dir, 'subnet.env'), dataDir: join(dir, 'data'), ...extra });
  const call = (command: string, containerId?: string, netns?: string): PluginCall => ({
    plugin,
    command,
    ...(containerId === undefined ? {} : { containerId }),
    ...(netns === undefined ? {} : { netns: `/run/netns/${netns}` }),
    ifname: 'eth0',
    runtimeNetns: node,
  });
  const reservations = () => readdirSync(join(dir, 'data', 'w6net')).filter((f) => !f.startsWith('last-reserved')).sort();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'w6-cni-'));
    await runOk([process.execPath, compiledWeft('npm run build'), 'cni', 'install', '--bin-dir', join(dir, 'bin')]);
    plugin = join(dir, 'bin', 'weft');
    node = await sb.create();
    await sb.run(node, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    writeFileSync(join(dir, 'subnet.env'), SUBNET_ENV);
  });

  afterAll(async () => {
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['0.4.0', '"version":"6",', '', 2],
    ['1.1.0', '', ',"mtu":1430', 3],
  ])('ADD answers with the IPv6 address alone in the %s result format', async (version, family6, mtu, host) => {
    const ns = await sb.create();
    const id = `v6-${version}`;
    const r = await runPlugin(call('ADD', id, ns), net(version));
    const veth = hostVethName({ containerId: id, ifname: 'eth0' });
    expect(r.stdout).toBe(
      `{"cniVersion":"${version}","interfaces":[{"name":"cni0","mac":"0a:58:00:00:00:01"${mtu}},{"name":"${veth}","mac":"0e:58:00:00:00:0${host}"${mtu}},` +
        `{"name":"eth0","mac":"0a:58:00:00:00:0${host}"${mtu},"sandbox":"/run/netns/${ns}"}],` +
        `"ips":[{${family6}"address":"fd00:10:244:1::${host}/64","gateway":"fd00:10:244:1::1","interface":2}],"routes":[${ROUTES6}],"dns":{}}\n`,
    );
    expect(r.status).toBe(0);
    expect(await sb.run(ns, ['ip', '-4', 'addr', 'show', 'dev', 'eth0'])).toBe('');
    expect(await sb.run(ns, ['ip', '-4', 'route', 'show'])).toBe('');
    expect(await sb.run(ns, ['ip', '-6', 'route', 'show', 'default'])).toBe('default via fd00:10:244:1::1 dev eth0 metric 1024 pref medium\n');
    expect((await sb.exec(ns, ['ping', '-c', '1', '-W', '2', 'fd00:10:244:1::1'])).code).toBe(0);
  });

  it('the bridge holds the IPv6 gateway alone; containers on it reach each other', async () => {
    const [a, b] = [await sb.create(), await sb.create()];
    expect((await runPlugin(call('ADD', 'peer-a', a), net())).status).toBe(0);
    expect((await runPlugin(call('ADD', 'peer-b', b), net())).status).toBe(0);
    expect((await sb.exec(a, ['ping', '-c', '1', '-W', '2', 'fd00:10:244:1::5'])).code).toBe(0);
    expect((await sb.exec(b, ['ping', '-c', '1', '-W', '2', 'fd00:10:244:1::4'])).code).toBe(0);
    expect(await sb.run(node, ['ip', '-4', 'addr', 'show', 'dev', 'cni0'])).toBe('');
    expect(await sb.run(node, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'cni0', 'scope', 'global'])).toContain('inet6 fd00:10:244:1::1/64 scope global');
  });

  it('CHECK passes for an intact attachment and names a missing route; DEL releases; STATUS is ready', async () => {
    const ns = await sb.create();
    const add = await runPlugin(call('ADD', 'checked', ns), net());
    const withPrev = net('1.1.0', { prevResult: JSON.parse(add.stdout) as unknown });
    expect(await runPlugin(call('CHECK', 'checked', ns), withPrev)).toMatchObject({ status: 0, stdout: '' });
    await sb.run(ns, ['ip', '-6', 'route', 'del', 'default']);
    expect(JSON.parse((await runPlugin(call('CHECK', 'checked', ns), withPrev)).stdout)).toMatchObject({ code: 103, msg: 'route ::/0 via fd00:10:244:1::1 is missing' });
    expect(reservations()).toContain('fd00-10-244-1--6');
    expect(reservations().some((f) => !f.includes('-'))).toBe(false);
    for (let i = 0; i < 2; i++) expect(await runPlugin(call('DEL', 'checked', ns), net())).toMatchObject({ status: 0, stdout: '' });
    expect(reservations()).not.toContain('fd00-10-244-1--6');
    expect(await runPlugin(call('STATUS'), net())).toMatchObject({ status: 0, stdout: '' });
  });
});
