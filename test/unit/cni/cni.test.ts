/**
 * weft-cni's pure parts: the runtime's parameters, the network
 * configuration, subnet.env, result formats and the address store. The
 * plugin as a runtime runs it is test/integration/cni-conformance.test.ts.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AddressStore } from '../../../src/cni/address-store.ts';
import { readParameters } from '../../../src/cni/environment.ts';
import { parseNetConfig } from '../../../src/cni/net-config.ts';
import { fromPrevious, resultJson } from '../../../src/cni/result.ts';
import { CniError } from '../../../src/cni/spec.ts';
import { parseSubnetEnv } from '../../../src/cni/subnet-env.ts';
import { conflistText, pluginWrapper } from '../../../src/cli/cni-command.ts';
import { seededRandom } from '../../helpers/random.ts';

const ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/30\nFLANNEL_MTU=1450\n';

function codeOf(f: () => unknown): number | string {
  try {
    f();
    return 'no error';
  } catch (err) {
    return err instanceof CniError ? err.code : `not a CniError: ${String(err)}`;
  }
}

describe('parameters', () => {
  it('checks what each command needs, and only that', () => {
    expect(codeOf(() => readParameters({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'a', CNI_IFNAME: 'eth0' }))).toBe(4);
    expect(codeOf(() => readParameters({ CNI_COMMAND: 'VERSION', CNI_NETNS: 'dummy', CNI_IFNAME: 'dummy' }))).toBe('no error');
    expect(codeOf(() => readParameters({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'a', CNI_IFNAME: 'a/b' }))).toBe(4);
    expect(readParameters({ CNI_COMMAND: 'GC', CNI_ARGS: 'A=1;B=x=y', CNI_PATH: '/a::/b' })).toMatchObject({ path: ['/a', '/b'], args: new Map([['A', '1'], ['B', 'x=y']]) });
  });
});

describe('subnet.env', () => {
  it('reads the node network as weft writes it', () => {
    expect(parseSubnetEnv('f', ENV)).toEqual({ v4: { clusterCidr: { network: 0x0af40000, bits: 16 }, subnet: { network: 0x0af40100, bits: 30 }, gateway: 0x0af40101 }, mtu: 1450, v6: undefined });
  });

  it.each([
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.0/24\nFLANNEL_MTU=1450\n', 'names the network address'],
    ['FLANNEL_NETWORK=fd00::/8\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\n', 'not an IPv4 prefix'],
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n', 'FLANNEL_MTU= is not an MTU'],
  ])('refuses %j, saying why', (text, why) => {
    expect(() => parseSubnetEnv('f', text)).toThrow(why);
  });
});

describe('results', () => {
  it('writes an earlier version\'s prevResult in the asked format, unknown fields kept', () => {
    const prev = fromPrevious({ interfaces: [{ name: 'a', mtu: 9000, x: 1 }], ips: [{ version: '4', address: '10.0.0.1/24', interface: 0 }], routes: [{ dst: '0.0.0.0/0' }] });
    expect(resultJson(prev, '1.0.0')).toBe('{"cniVersion":"1.0.0","interfaces":[{"name":"a","x":1}],"ips":[{"address":"10.0.0.1/24","interface":0}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}');
    expect(resultJson(prev, '0.3.1')).toContain('"ips":[{"version":"4","address":"10.0.0.1/24","interface":0}]');
    expect(resultJson(prev, '1.1.0')).toContain('{"name":"a","mtu":9000,"x":1}');
  });

  it('any JSON for a configuration is a CniError or a config, never an exception of another kind', () => {
    const rnd = seededRandom(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const keys = ['cniVersion', 'name', 'bridge', 'subnetEnv', 'dataDir', 'controlSocket', 'prevResult', 'ipam', 'dns', 'interfaces', 'ips', 'routes', 'cni.dev/valid-attachments', 'containerID', 'ifname', 'address', 'x'];
    const value = (depth: number): unknown => {
      const kind = depth > 3 ? pick(['s', 'n', 'z']) : pick(['s', 'n', 'z', 'a', 'o', 'o']);
      if (kind === 's') return pick(['1.1.0', '0.3.1', 'n', '', '/abs', 'eth0', '10.0.0.1/24']);
      if (kind === 'n') return pick([0, 7, -1, 1.5]);
      if (kind === 'z') return null;
      if (kind === 'a') return Array.from({ length: Math.floor(rnd() * 3) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 5) }, () => [pick(keys), value(depth + 1)]));
    };
    for (let i = 0; i < 2000; i++) {
      const j = { cniVersion: pick(['1.1.0', '1.0.0', '0.4.0', 7]), name: pick(['n', 'bad name']), ...(value(0) as object) } as Record<string, unknown>;
      const text = JSON.stringify(j);
      const outcome = codeOf(() => resultJson(fromPrevious(parseNetConfig(j).prevResult), '1.1.0'));
      expect(typeof outcome === 'number' || outcome === 'no error', `${text}: ${outcome}`).toBe(true);
    }
  });
});

describe('address store', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const store = () => {
    const dir = mkdtempSync(join(tmpdir(), 'wc-store-'));
    dirs.push(dir);
    return new AddressStore(dir, 'net');
  };

  it('hands out every free address once, round-robin, keeping the gateway, and refuses a second ADD', () => {
    const s = store();
    const net = parseSubnetEnv('f', ENV); // a /30: .1 gateway, .2 the only pod address
    expect(s.reserve(net.v4!, { containerId: 'a', ifname: 'eth0' })).toBe(0x0af40102);
    expect(codeOf(() => s.reserve(net.v4!, { containerId: 'a', ifname: 'eth0' }))).toBe(100);
    expect(codeOf(() => s.reserve(net.v4!, { containerId: 'b', ifname: 'eth0' }))).toBe(101);
    expect(statSync(s.dir).mode & 0o777).toBe(0o700);
    expect(s.release({ containerId: 'a', ifname: 'eth0' })).toEqual(['10.244.1.2']);
    expect(s.release({ containerId: 'a', ifname: 'eth0' })).toEqual([]);
    expect(readdirSync(s.dir)).toEqual(['last-reserved']);
  });

  it('GC keeps exactly the valid attachments', () => {
    const s = store();
    const net = parseSubnetEnv('f', ENV.replace('/30', '/24'));
    for (const id of ['a', 'b', 'c']) s.reserve(net.v4!, { containerId: id, ifname: 'eth0' });
    expect(s.collect([{ containerId: 'b', ifname: 'eth0' }])).toHaveLength(2);
    expect(s.list().map((r) => r.attachment.containerId)).toEqual(['b']);
  });
});

describe('install', () => {
  it('the wrapper names node and the plugin by absolute path, quoted', () => {
    expect(pluginWrapper('/usr/bin/node', "/opt/we'ft/main.js")).toBe(
      "#!/bin/sh\n# weft-cni, installed by weft cni install; runtimes may run it without PATH.\nexec '/usr/bin/node' '/opt/we'\\''ft/main.js' \"$@\"\n",
    );
  });

  it('the conflist offers 1.1.0 to runtimes that know it', () => {
    const j = JSON.parse(conflistText({ network: 'weft', cniVersion: '1.0.0', subnetEnv: '/run/flannel/subnet.env', controlSocket: '/run/weft/a.sock', dataDir: undefined, portmap: true })) as Record<string, unknown>;
    expect(j).toEqual({
      cniVersion: '1.0.0',
      cniVersions: ['1.0.0', '1.1.0'],
      name: 'weft',
      plugins: [{ type: 'weft', subnetEnv: '/run/flannel/subnet.env', controlSocket: '/run/weft/a.sock' }, { type: 'portmap', capabilities: { portMappings: true } }],
    });
  });
});
