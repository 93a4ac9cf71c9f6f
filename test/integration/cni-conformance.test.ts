/**
 * weft-cni driven exactly as a runtime drives it (SPEC.md sections 2 and 5):
 * the installed wrapper, only CNI_* variables in its environment (no PATH),
 * the request configuration on stdin, the host side in a "node" namespace.
 * Every command and the error cases runtimes rely on, compared byte for byte
 * with the JSON the specification prescribes.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
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
const SUBNET_ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';

describe.skipIf(!root)('weft-cni conformance', () => {
  const sb = new NetnsSandbox('wc');
  let dir: string;
  let plugin: string;
  let node: string;
  const net = (version = '1.1.0', extra: Record<string, unknown> = {}) => ({
    cniVersion: version,
    name: 'wcnet',
    type: 'weft',
    subnetEnv: join(dir, 'subnet.env'),
    dataDir: join(dir, 'data'),
    ...extra,
  });
  const call = (command: string, containerId?: string, netns?: string, more: Partial<PluginCall> = {}): PluginCall => ({
    plugin,
    command,
    ...(containerId === undefined ? {} : { containerId }),
    ...(netns === undefined ? {} : { netns: `/run/netns/${netns}` }),
    ifname: 'eth0',
    runtimeNetns: node,
    ...more,
  });
  const error = (version: string, code: number, msg: string, details: string) => `${JSON.stringify({ cniVersion: version, code, msg, details })}\n`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wc-cni-'));
    await runOk([process.execPath, compiledWeft('npm run build'), 'cni', 'install', '--bin-dir', join(dir, 'bin')]);
    plugin = join(dir, 'bin', 'weft');
    node = await sb.create();
    writeFileSync(join(dir, 'subnet.env'), SUBNET_ENV);
  });

  afterAll(async () => {
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('VERSION lists the versions, echoing the one asked for, whatever placeholders libcni sets', async () => {
    const r = await runPlugin(call('VERSION', 'cni', undefined, { env: { CNI_NETNS: 'dummy', CNI_IFNAME: 'dummy' } }), { cniVersion: '1.1.0' });
    expect(r).toMatchObject({ status: 0, stdout: '{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n' });
  });

  it.each([
    ['0.3.1', '"version":"4",', '', 2],
    ['0.4.0', '"version":"4",', '', 3],
    ['1.0.0', '', '', 4],
    ['1.1.0', '', ',"mtu":1450', 5],
  ])('ADD answers in the %s result format', async (version, family, mtu, host) => {
    const ns = await sb.create();
    const id = `ctr-${version}`;
    const r = await runPlugin(call('ADD', id, ns), net(version));
    const veth = hostVethName({ containerId: id, ifname: 'eth0' });
    expect(r.stdout).toBe(
      `{"cniVersion":"${version}","interfaces":[{"name":"cni0","mac":"0a:58:0a:f4:01:01"${mtu}},{"name":"${veth}","mac":"0e:58:0a:f4:01:0${host}"${mtu}},` +
        `{"name":"eth0","mac":"0a:58:0a:f4:01:0${host}"${mtu},"sandbox":"/run/netns/${ns}"}],"ips":[{${family}"address":"10.244.1.${host}/24","gateway":"10.244.1.1","interface":2}],` +
        `"routes":[{"dst":"10.244.0.0/16","gw":"10.244.1.1"},{"dst":"0.0.0.0/0","gw":"10.244.1.1"}],"dns":{}}\n`,
    );
    expect(r.status).toBe(0);
    const reservation = join(dir, 'data', 'wcnet', `10.244.1.${host}`);
    expect(readFileSync(reservation, 'utf8')).toBe(`${id}\neth0\n`);
    expect(statSync(reservation).mode & 0o777).toBe(0o600);
    expect((await sb.exec(ns, ['ping', '-c', '1', '-W', '2', '10.244.1.1'])).code).toBe(0);
  });

  it('ADD twice for one container and interface is an error, not a second address', async () => {
    const ns = await sb.create();
    expect((await runPlugin(call('ADD', 'twice', ns), net())).status).toBe(0);
    const again = await runPlugin(call('ADD', 'twice', ns), net());
    expect(again).toMatchObject({ status: 1, stdout: error('1.1.0', 100, 'container twice already has eth0 on this network', 'it holds 10.244.1.6; a runtime calls DEL before adding the same container and interface again') });
    // Another container asking for a name the namespace already has: refused, and its address given back.
    const clash = await runPlugin(call('ADD', 'clash', ns), net());
    expect(clash.stdout).toBe(error('1.1.0', 100, 'interface eth0 already exists in the container', `/run/netns/${ns} has an interface named eth0; the runtime must ask for a free name (CNI_IFNAME)`));
    expect(readFileSync(join(dir, 'data', 'wcnet', '10.244.1.6'), 'utf8')).toBe('twice\neth0\n');
    expect(() => statSync(join(dir, 'data', 'wcnet', '10.244.1.7'))).toThrow();
  });

  it('composes in a chain: a previous result is kept and indices follow it', async () => {
    const ns = await sb.create();
    const prevResult = { cniVersion: '1.1.0', interfaces: [{ name: 'dummy0' }], ips: [], dns: { nameservers: ['10.96.0.10'] } };
    const r = await runPlugin(call('ADD', 'chained', ns), net('1.1.0', { prevResult }));
    const out = JSON.parse(r.stdout) as { interfaces: Array<{ name: string }>; ips: Array<{ interface: number }>; dns: unknown };
    expect(out.interfaces.map((i) => i.name)).toEqual(['dummy0', 'cni0', hostVethName({ containerId: 'chained', ifname: 'eth0' }), 'eth0']);
    expect(out.ips[0]!.interface).toBe(3);
    expect(out.dns).toEqual({ nameservers: ['10.96.0.10'] });
  });

  it('CHECK passes for an intact attachment and names what is missing', async () => {
    const ns = await sb.create();
    const add = await runPlugin(call('ADD', 'checked', ns), net());
    const withPrev = net('1.1.0', { prevResult: JSON.parse(add.stdout) as unknown });
    expect(await runPlugin(call('CHECK', 'checked', ns), withPrev)).toMatchObject({ status: 0, stdout: '' });
    await sb.run(ns, ['ip', 'route', 'del', 'default']);
    expect((await runPlugin(call('CHECK', 'checked', ns), withPrev)).stdout).toBe(
      error('1.1.0', 103, 'route 0.0.0.0/0 via 10.244.1.1 is missing', `eth0 in /run/netns/${ns} has routes: 10.244.0.0/16 via 10.244.1.1`),
    );
    await sb.run(ns, ['ip', 'addr', 'flush', 'dev', 'eth0']);
    expect((await runPlugin(call('CHECK', 'checked', ns), withPrev)).stdout).toBe(error('1.1.0', 103, 'address 10.244.1.9/24 is missing from eth0', 'eth0 has no address; remove the container and create it again'));
    await sb.run(ns, ['ip', 'link', 'del', 'eth0']);
    expect((await runPlugin(call('CHECK', 'checked', ns), withPrev)).stdout).toBe(error('1.1.0', 103, 'interface eth0 is missing', `/run/netns/${ns} has no eth0; remove the container and create it again`));
    expect((await runPlugin(call('CHECK', 'checked', ns), net('0.3.1', { prevResult: {} }))).stdout).toBe(
      error('0.3.1', 1, 'config version 0.3.1 does not allow CHECK', 'CHECK needs cniVersion 0.4.0 or later; raise "cniVersion" in the conflist if the runtime supports it'),
    );
  });

  it('DEL releases the address and is idempotent, also once the namespace is gone', async () => {
    const ns = await sb.create();
    await runPlugin(call('ADD', 'deleted', ns), net());
    const veth = hostVethName({ containerId: 'deleted', ifname: 'eth0' });
    expect((await sb.exec(node, ['ip', 'link', 'show', veth])).code).toBe(0);
    for (let i = 0; i < 2; i++) expect(await runPlugin(call('DEL', 'deleted', ns), net())).toMatchObject({ status: 0, stdout: '' });
    expect((await sb.exec(node, ['ip', 'link', 'show', veth])).code).not.toBe(0);
    expect(await runPlugin(call('DEL', 'never-added', undefined), net())).toMatchObject({ status: 0, stdout: '' });
    expect(readFileSync(join(dir, 'data', 'wcnet', 'last-reserved'), 'utf8')).toBe('10.244.1.10\n');
  });

  it('concurrent ADDs never hand out one address twice', async () => {
    const namespaces = await Promise.all(Array.from({ length: 6 }, () => sb.create()));
    const results = await Promise.all(namespaces.map((ns, i) => runPlugin(call('ADD', `burst-${i}`, ns), net())));
    const addresses = results.map((r) => (JSON.parse(r.stdout) as { ips: Array<{ address: string }> }).ips[0]!.address);
    expect(new Set(addresses).size).toBe(6);
  });

  it('GC releases every reservation not in cni.dev/valid-attachments, and needs the list', async () => {
    const before = JSON.stringify(readFileSync(join(dir, 'data', 'wcnet', '10.244.1.6'), 'utf8'));
    const valid = [{ containerID: 'twice', ifname: 'eth0' }];
    expect(await runPlugin(call('GC'), net('1.1.0', { 'cni.dev/valid-attachments': valid }))).toMatchObject({ status: 0, stdout: '' });
    expect(readdirSync(join(dir, 'data', 'wcnet')).filter((f) => /^\d/u.test(f))).toEqual(['10.244.1.6']);
    expect(JSON.stringify(readFileSync(join(dir, 'data', 'wcnet', '10.244.1.6'), 'utf8'))).toBe(before);
    expect((await runPlugin(call('GC'), net())).stdout).toBe(
      error('1.1.0', 7, 'invalid network configuration: cni.dev/valid-attachments', 'GC needs the list of attachments still in use ("cni.dev/valid-attachments"; [] when there are none)'),
    );
    expect((await runPlugin(call('GC'), net('1.0.0', { 'cni.dev/valid-attachments': [] }))).stdout).toBe(
      error('1.0.0', 1, 'config version 1.0.0 does not allow GC', 'GC needs cniVersion 1.1.0 or later; raise "cniVersion" in the conflist if the runtime supports it'),
    );
  });

  it('STATUS succeeds while weft publishes its subnet and fails (50) when it does not run', async () => {
    expect(await runPlugin(call('STATUS'), net())).toMatchObject({ status: 0, stdout: '' });
    const socket = join(dir, 'no-weft.sock');
    const r = await runPlugin(call('STATUS'), net('1.1.0', { controlSocket: socket }));
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 50, msg: 'weft is not running on this node' });
    unlinkSync(join(dir, 'subnet.env'));
    try {
      expect((await runPlugin(call('STATUS'), net())).stdout).toBe(
        error('1.1.0', 50, 'weft is not running on this node or has no subnet yet', `${join(dir, 'subnet.env')} does not exist: weft writes it once it runs and holds a subnet (weft up), and removes it when it stops`),
      );
      const ns = await sb.create();
      expect((await runPlugin(call('ADD', 'early', ns), net())).stdout).toBe(
        error('1.1.0', 11, 'weft is not running on this node', `${join(dir, 'subnet.env')} does not exist: weft writes it once it runs and holds a subnet (weft up), and removes it when it stops`),
      );
    } finally {
      writeFileSync(join(dir, 'subnet.env'), SUBNET_ENV);
    }
  });

  it.each([
    ['not JSON', call('ADD', 'x', 'wc-none'), '{"cniVersion":', error('1.1.0', 6, 'network configuration is not JSON', 'stdin must hold one JSON object (the network configuration); Unexpected end of JSON input')],
    ['an array', call('ADD', 'x', 'wc-none'), '[]', error('1.1.0', 6, 'network configuration is not a JSON object', 'stdin must hold one JSON object, got an array')],
    ['no CNI_COMMAND', { ...call('ADD'), env: { CNI_COMMAND: undefined } }, '{}', error('1.1.0', 4, 'invalid CNI_COMMAND', 'CNI_COMMAND is not set; a runtime sets it to one of ADD, DEL, CHECK, STATUS, GC, VERSION (weft-cni is a CNI plugin, run by a container runtime)')],
    ['an unknown command', call('UPDATE'), '{}', error('1.1.0', 4, 'invalid CNI_COMMAND', 'CNI_COMMAND="UPDATE" is not a command of CNI 1.1.0; expected one of ADD, DEL, CHECK, STATUS, GC, VERSION')],
    ['ADD without CNI_NETNS', call('ADD', 'x'), '{}', error('1.1.0', 4, 'invalid CNI_NETNS', 'ADD needs CNI_NETNS, which is not set')],
    ['a bad container ID', call('DEL', '-x'), '{}', error('1.1.0', 4, 'invalid CNI_CONTAINERID', '"-x" must start with a letter or digit, followed by letters, digits, "_", "." or "-"')],
    ['an unsupported version', call('DEL', 'x'), { cniVersion: '0.2.0', name: 'n' }, error('1.1.0', 1, 'incompatible CNI version 0.2.0', 'weft-cni supports 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0; set "cniVersion" in the conflist to one of them')],
    ['an ipam section', call('DEL', 'x'), { cniVersion: '1.0.0', name: 'n', ipam: { type: 'host-local' } }, error('1.0.0', 2, 'unsupported field ipam: {"type":"host-local"}', 'weft-cni hands out addresses itself, from the subnet weft leased for this node (subnet.env); remove "ipam" from the weft plugin entry')],
    ['a bridge of the wrong type', call('DEL', 'x'), { cniVersion: '1.0.0', name: 'n', bridge: 7 }, error('1.0.0', 7, 'invalid network configuration: bridge', '"bridge" must be an interface name of 1 to 15 characters, got 7')],
  ] as Array<[string, PluginCall, unknown, string]>)('%s: the error JSON on stdout, exit 1', async (_what, c, stdin, expected) => {
    const r = await runPlugin({ ...c, plugin }, stdin);
    expect(r).toMatchObject({ status: 1, stdout: expected });
  });
});
