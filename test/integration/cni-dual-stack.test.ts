/**
 * weft-cni on a dual-stack node, driven as a runtime drives it (the
 * installed wrapper, only CNI_* in its environment, the host side in a
 * "node" namespace): subnet.env carries Flannel's IPv6 pair, and every
 * container gets an address of each family, both gateways on the bridge,
 * both families' cluster and default routes, and a result listing them in
 * each version's format, compared byte for byte. DEL, CHECK, GC and
 * concurrent ADDs cover both families; an ADD that fails in the IPv6 half
 * gives back its IPv4 address too.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
/** As weft writes it for a dual-stack node (src/cli/subnet-env.ts): the IPv6 pair after the IPv4 one. */
const SUBNET_ENV =
  'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';
const ROUTES4 = '{"dst":"10.244.0.0/16","gw":"10.244.1.1"},{"dst":"0.0.0.0/0","gw":"10.244.1.1"}';
const ROUTES6 = '{"dst":"fd00:10:244::/56","gw":"fd00:10:244:1::1"},{"dst":"::/0","gw":"fd00:10:244:1::1"}';

describe.skipIf(!root)('weft-cni on a dual-stack node', () => {
  const sb = new NetnsSandbox('wd');
  let dir: string;
  let plugin: string;
  let node: string;
  const net = (version = '1.1.0', extra: Record<string, unknown> = {}) => ({
    cniVersion: version,
    name: 'wdnet',
    type: 'weft',
    subnetEnv: join(dir, 'subnet.env'),
    dataDir: join(dir, 'data'),
    ...extra,
  });
  const call = (command: string, containerId?: string, netns?: string): PluginCall => ({
    plugin,
    command,
    ...(containerId === undefined ? {} : { containerId }),
    ...(netns === undefined ? {} : { netns: `/run/netns/${netns}` }),
    ifname: 'eth0',
    runtimeNetns: node,
  });
  const error = (code: number, msg: string, details: string) => `${JSON.stringify({ cniVersion: '1.1.0', code, msg, details })}\n`;
  const reservations = (network = 'wdnet') => readdirSync(join(dir, 'data', network)).filter((f) => !f.startsWith('last-reserved')).sort();
  const ipsOf = (stdout: string) => (JSON.parse(stdout) as { ips: Array<{ address: string }> }).ips.map((ip) => ip.address);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wd-cni-'));
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
    ['0.3.1', '"version":"4",', '"version":"6",', '', 2],
    ['0.4.0', '"version":"4",', '"version":"6",', '', 3],
    ['1.0.0', '', '', '', 4],
    ['1.1.0', '', '', ',"mtu":1450', 5],
  ])('ADD answers with both families in the %s result format', async (version, family4, family6, mtu, host) => {
    const ns = await sb.create();
    const id = `ds-${version}`;
    const r = await runPlugin(call('ADD', id, ns), net(version));
    const veth = hostVethName({ containerId: id, ifname: 'eth0' });
    expect(r.stdout).toBe(
      `{"cniVersion":"${version}","interfaces":[{"name":"cni0","mac":"0a:58:0a:f4:01:01"${mtu}},{"name":"${veth}","mac":"0e:58:0a:f4:01:0${host}"${mtu}},` +
        `{"name":"eth0","mac":"0a:58:0a:f4:01:0${host}"${mtu},"sandbox":"/run/netns/${ns}"}],` +
        `"ips":[{${family4}"address":"10.244.1.${host}/24","gateway":"10.244.1.1","interface":2},{${family6}"address":"fd00:10:244:1::${host}/64","gateway":"fd00:10:244:1::1","interface":2}],` +
        `"routes":[${ROUTES4},${ROUTES6}],"dns":{}}\n`,
    );
    expect(r.status).toBe(0);
    for (const file of [`10.244.1.${host}`, `fd00-10-244-1--${host}`]) expect(readFileSync(join(dir, 'data', 'wdnet', file), 'utf8')).toBe(`${id}\neth0\n`);
    expect(await sb.run(ns, ['ip', '-6', 'route', 'show', 'default'])).toBe('default via fd00:10:244:1::1 dev eth0 metric 1024 pref medium\n');
    // The gateway answers on both families at once: the addresses were added without DAD.
    expect((await sb.exec(ns, ['ping', '-c', '1', '-W', '2', '10.244.1.1'])).code).toBe(0);
    expect((await sb.exec(ns, ['ping', '-c', '1', '-W', '2', 'fd00:10:244:1::1'])).code).toBe(0);
  });

  it('containers on one bridge reach each other over IPv6; the bridge holds the IPv6 gateway', async () => {
    const [a, b] = [await sb.create(), await sb.create()];
    const ra = await runPlugin(call('ADD', 'peer-a', a), net());
    const rb = await runPlugin(call('ADD', 'peer-b', b), net());
    expect([ipsOf(ra.stdout), ipsOf(rb.stdout)]).toEqual([
      ['10.244.1.6/24', 'fd00:10:244:1::6/64'],
      ['10.244.1.7/24', 'fd00:10:244:1::7/64'],
    ]);
    expect((await sb.exec(a, ['ping', '-c', '1', '-W', '2', 'fd00:10:244:1::7'])).code).toBe(0);
    expect((await sb.exec(b, ['ping', '-c', '1', '-W', '2', 'fd00:10:244:1::6'])).code).toBe(0);
    expect(await sb.run(node, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'cni0', 'scope', 'global'])).toContain('inet6 fd00:10:244:1::1/64 scope global');
  });

  it('a container with an IPv4 default route already gets the IPv6 one alone', async () => {
    const ns = await sb.create();
    await sb.run(ns, ['ip', 'link', 'add', 'other0', 'type', 'veth', 'peer', 'name', 'other1']);
    await sb.run(ns, ['ip', 'link', 'set', 'other0', 'up']);
    await sb.run(ns, ['ip', 'addr', 'add', '192.168.77.2/24', 'dev', 'other0']);
    await sb.run(ns, ['ip', 'route', 'add', 'default', 'via', '192.168.77.1']);
    const r = await runPlugin(call('ADD', 'has-default', ns), net());
    expect(r.stdout).toContain(`"routes":[{"dst":"10.244.0.0/16","gw":"10.244.1.1"},${ROUTES6}]`);
    expect(await sb.run(ns, ['ip', 'route', 'show', 'default'])).toMatch(/^default via 192\.168\.77\.1 dev other0 [^\n]*\n$/u);
  });

  it('CHECK passes for an intact attachment and names a missing IPv6 route or address', async () => {
    const ns = await sb.create();
    const add = await runPlugin(call('ADD', 'checked', ns), net());
    const [, address6] = ipsOf(add.stdout);
    const withPrev = net('1.1.0', { prevResult: JSON.parse(add.stdout) as unknown });
    expect(await runPlugin(call('CHECK', 'checked', ns), withPrev)).toMatchObject({ status: 0, stdout: '' });
    await sb.run(ns, ['ip', '-6', 'route', 'del', 'default']);
    expect((await runPlugin(call('CHECK', 'checked', ns), withPrev)).stdout).toBe(
      error(103, 'route ::/0 via fd00:10:244:1::1 is missing', `eth0 in /run/netns/${ns} has routes: 0.0.0.0/0 via 10.244.1.1; 10.244.0.0/16 via 10.244.1.1; fd00:10:244::/56 via fd00:10:244:1::1`),
    );
    await sb.run(ns, ['ip', 'addr', 'del', address6!, 'dev', 'eth0']);
    expect(JSON.parse((await runPlugin(call('CHECK', 'checked', ns), withPrev)).stdout)).toMatchObject({ code: 103, msg: `address ${address6} is missing from eth0` });
    // A result that lists only the IPv4 address disagrees with the IPv6 reservation.
    const prev = JSON.parse(add.stdout) as { ips: unknown[] };
    const v4Only = net('1.1.0', { prevResult: { ...prev, ips: prev.ips.slice(0, 1) } });
    expect((await runPlugin(call('CHECK', 'checked', ns), v4Only)).stdout).toBe(
      error(103, `the reserved address ${address6!.split('/')[0]} is not in prevResult`, 'prevResult lists 10.244.1.9/24 for eth0; the reservation and the container disagree'),
    );
  });

  it('DEL releases both families and is idempotent', async () => {
    const ns = await sb.create();
    await runPlugin(call('ADD', 'deleted', ns), net());
    expect(reservations()).toContain('fd00-10-244-1--a');
    for (let i = 0; i < 2; i++) expect(await runPlugin(call('DEL', 'deleted', ns), net())).toMatchObject({ status: 0, stdout: '' });
    expect(reservations().filter((f) => f.endsWith('.10') || f.endsWith('--a'))).toEqual([]);
    expect(readFileSync(join(dir, 'data', 'wdnet', 'last-reserved6'), 'utf8')).toBe('fd00:10:244:1::a\n');
  });

  it('concurrent ADDs never share an address in either family', async () => {
    const namespaces = await Promise.all(Array.from({ length: 6 }, () => sb.create()));
    const results = await Promise.all(namespaces.map((ns, i) => runPlugin(call('ADD', `burst-${i}`, ns), net())));
    const ips = results.map((r) => ipsOf(r.stdout));
    expect(ips.every((pair) => pair.length === 2 && !pair[0]!.includes(':') && pair[1]!.includes(':'))).toBe(true);
    expect(new Set(ips.map((pair) => pair[0])).size).toBe(6);
    expect(new Set(ips.map((pair) => pair[1])).size).toBe(6);
  });

  it('an ADD that finds no free IPv6 address gives back its IPv4 one (error 101)', async () => {
    // Another network on a bridge of its own, whose /126 holds two pod addresses (::2, ::3) beside the gateway ::1.
    const small = join(dir, 'small.env');
    writeFileSync(small, SUBNET_ENV.replace('10.244.1.1/24', '10.244.9.1/24').replace('fd00:10:244:1::1/64', 'fd00:10:244:9::1/126'));
    const cfg = net('1.1.0', { name: 'wdsmall', subnetEnv: small, bridge: 'wdsmall0' });
    for (const id of ['s1', 's2']) expect((await runPlugin(call('ADD', id, await sb.create()), cfg)).status).toBe(0);
    const third = await runPlugin(call('ADD', 's3', await sb.create()), cfg);
    expect(third.stdout).toBe(
      error(101, 'no free address in fd00:10:244:9::/126', `all 2 IPv6 pod addresses of this node are reserved (in ${join(dir, 'data', 'wdsmall')}); remove containers, or let the runtime garbage-collect (CNI GC) those it no longer knows`),
    );
    expect(reservations('wdsmall')).toEqual(['10.244.9.2', '10.244.9.3', 'fd00-10-244-9--2', 'fd00-10-244-9--3']);
    // STATUS says so before the next ADD does.
    expect((await runPlugin(call('STATUS'), cfg)).stdout).toBe(
      error(50, 'no free address in fd00:10:244:9::/126', "all 2 IPv6 pod addresses of this node are reserved; remove containers or run the runtime's GC"),
    );
    // Its veth went too: only the two containers' ends are on the bridge.
    expect((await sb.run(node, ['ip', '-o', 'link', 'show', 'master', 'wdsmall0'])).trim().split('\n')).toHaveLength(2);
  });

  it('GC releases both families of every attachment not in the list', async () => {
    const valid = [{ containerID: 'checked', ifname: 'eth0' }];
    expect(await runPlugin(call('GC'), net('1.1.0', { 'cni.dev/valid-attachments': valid }))).toMatchObject({ status: 0, stdout: '' });
    expect(reservations()).toEqual(['10.244.1.9', 'fd00-10-244-1--9']);
    const onBridge = (await sb.run(node, ['ip', '-o', 'link', 'show', 'master', 'cni0'])).trim().split('\n');
    expect(onBridge).toHaveLength(1);
    expect(onBridge[0]).toContain(hostVethName({ containerId: 'checked', ifname: 'eth0' }));
  });

  it('STATUS is ready on a dual-stack node', async () => {
    expect(await runPlugin(call('STATUS'), net())).toMatchObject({ status: 0, stdout: '' });
  });
});
