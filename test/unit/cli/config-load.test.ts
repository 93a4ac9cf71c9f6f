import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/cli/config-load.ts';
import { formatCidr } from '../../../src/wire/addr.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const yaml = `# a node in YAML
name: node-a
underlay:
  address: 192.168.50.1
subnet: 10.244.1.0/24
peers:
  - name: node-b
    endpoint: 192.168.50.2:8472
    subnet: 10.244.2.0/24
`;

describe('loadConfig', () => {
  it('reads YAML by its extension', () => {
    const path = join(dir, 'node.yaml');
    writeFileSync(path, yaml);
    const c = loadConfig(path, {}, {});
    expect(c.name).toBe('node-a');
    expect(c.peers.map((p) => p.name)).toEqual(['node-b']);
  });

  it('lets the environment override the file, and flags override both', () => {
    const path = join(dir, 'node.yml');
    writeFileSync(path, yaml);
    const env = { WEFT_NAME: 'from-env', WEFT_SUBNET: '10.244.7.0/24', WEFT_UNDERLAY_MTU: '9000' };
    const c = loadConfig(path, { '--name': 'from-flag' }, env);
    expect(c.name).toBe('from-flag');
    expect(formatCidr(c.subnet!)).toBe('10.244.7.0/24');
    expect(c.underlay.mtu).toBe(9000);
  });

  it('starts from flags alone when there is no file', () => {
    const c = loadConfig(undefined, { '--name': 'solo', '--subnet': '10.244.9.0/24', '--underlay-address': '192.0.2.9', '--metrics': 'off' }, {});
    expect(c.name).toBe('solo');
    expect(c.peers).toEqual([]);
    expect(c.metricsListen).toBeUndefined();
  });

  it('names the field of a bad override and of a bad file', () => {
    expect(() => loadConfig(undefined, { '--name': 'x', '--subnet': '10.244.9.0/24', '--underlay-address': '192.0.2.9', '--underlay-mtu': 'big' }, {})).toThrow(
      /config field "underlay.mtu": expected an integer from 576 to 65535, got "big"/u,
    );
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: [unclosed');
    expect(() => loadConfig(bad, {}, {})).toThrow(/is not valid YAML/u);
    const list = join(dir, 'list.json');
    writeFileSync(list, '[1, 2]');
    expect(() => loadConfig(list, {}, {})).toThrow(/must hold an object of fields, not a list/u);
    expect(() => loadConfig(join(dir, 'missing.json'), {}, {})).toThrow(/cannot read config file/u);
  });

  it('reports a wireguard section that is not an object, rather than filling in a generated key', () => {
    for (const value of ['"oops"', '[1, 2]', 'null']) {
      const file = join(dir, 'wg-section.json');
      writeFileSync(file, `{"name":"n","backend":"wireguard","underlay":{"address":"192.0.2.1"},"subnet":"10.244.1.0/24","stateDir":"${dir}","wireguard":${value}}`);
      expect(() => loadConfig(file, {}, {}), value).toThrow(/config field "wireguard": expected an object/u);
    }
  });
});
