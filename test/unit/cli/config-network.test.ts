import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/cli/config.ts';
import { loadConfig } from '../../../src/cli/config-load.ts';
import { isWeftError } from '../../../src/errors.ts';
import { formatCidr } from '../../../src/wire/addr.ts';
import { thrownBy } from '../../helpers/errors.ts';

const KEY = 'YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=';
const base = { name: 'node-a', underlay: { address: '192.168.50.1' }, subnet: '10.244.1.0/24' };
const gossip = { name: 'node-a', underlay: { address: '192.168.50.1' }, gossip: { clusterKey: KEY } };

function errorOf(raw: unknown): string {
  const err = thrownBy(() => parseConfig(raw));
  expect(isWeftError(err, 'CONFIG_INVALID')).toBe(true);
  return (err as Error).message;
}

const text = (c: { clusterCidr: unknown; clusterCidr6: unknown; subnet: unknown; subnet6: unknown }): string[] =>
  [c.clusterCidr, c.clusterCidr6, c.subnet, c.subnet6].map((x) => (x === undefined ? '-' : formatCidr(x as never)));

describe('pod network per family', () => {
  it('is IPv4 only unless asked, as before', () => {
    expect(text(parseConfig(base))).toEqual(['10.244.0.0/16', '-', '10.244.1.0/24', '-']);
    expect(text(parseConfig({ ...gossip, ipv6: false }))).toEqual(['10.244.0.0/16', '-', '-', '-']);
  });

  it('takes the Kubernetes forms: a comma-separated pair or a list, in either order', () => {
    const pair = { ...base, clusterCidr: '10.244.0.0/16, fd00:10:244::/56', subnet: '10.244.1.0/24,fd00:10:244:1::/64' };
    expect(text(parseConfig(pair))).toEqual(['10.244.0.0/16', 'fd00:10:244::/56', '10.244.1.0/24', 'fd00:10:244:1::/64']);
    const list = { ...base, clusterCidr: ['fd00:10:244::/56', '10.244.0.0/16'], subnet: ['fd00:10:244:1::/64', '10.244.1.0/24'] };
    expect(text(parseConfig(list))).toEqual(['10.244.0.0/16', 'fd00:10:244::/56', '10.244.1.0/24', 'fd00:10:244:1::/64']);
  });

  it('takes the pair from --cluster-cidr and --subnet (or WEFT_CLUSTER_CIDR and WEFT_SUBNET), as kube-controller-manager does', () => {
    const flags = { '--name': 'solo', '--underlay-address': '192.0.2.9', '--metrics': 'off', '--cluster-cidr': '10.244.0.0/16,fd00:10:244::/56', '--subnet': '10.244.9.0/24,fd00:10:244:9::/64' };
    expect(text(loadConfig(undefined, flags, {}))).toEqual(['10.244.0.0/16', 'fd00:10:244::/56', '10.244.9.0/24', 'fd00:10:244:9::/64']);
    const env = { WEFT_NAME: 'solo', WEFT_UNDERLAY_ADDRESS: '192.0.2.9', WEFT_METRICS: 'off', WEFT_CLUSTER_CIDR: '10.244.0.0/16,fd00:10:244::/56', WEFT_SUBNET: '10.244.9.0/24,fd00:10:244:9::/64' };
    expect(text(loadConfig(undefined, {}, env))[3]).toBe('fd00:10:244:9::/64');
  });

  it('"ipv6": true turns on the default ULA; gossip allocates what is not configured', () => {
    expect(text(parseConfig({ ...gossip, ipv6: true }))).toEqual(['10.244.0.0/16', 'fd00:10:244::/56', '-', '-']);
    expect(text(parseConfig({ ...gossip, ipv6: true, subnet: '10.244.5.0/24' }))).toEqual(['10.244.0.0/16', 'fd00:10:244::/56', '10.244.5.0/24', '-']);
    expect(text(parseConfig({ ...gossip, ipv6: true, subnet: '10.244.5.0/24,fd00:10:244:5::/64' }))[3]).toBe('fd00:10:244:5::/64');
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['an IPv6-only cluster with ipv6 off', { ...gossip, ipv6: false, clusterCidr: 'fd00:10:244::/56' }, /"ipv6": expected true, or leave it out, when clusterCidr lists an IPv6 CIDR/],
    ['two IPv4 clusters', { ...gossip, clusterCidr: '10.244.0.0/16,10.245.0.0/16' }, /"clusterCidr": expected at most one IPv4 CIDR \(one per family\)/],
    ['three clusters', { ...gossip, clusterCidr: ['10.244.0.0/16', 'fd00::/56', 'fd01::/56'] }, /"clusterCidr": expected one CIDR, or one IPv4 and one IPv6/],
    ['an empty list', { ...gossip, clusterCidr: [] }, /"clusterCidr": expected one CIDR, or one IPv4 and one IPv6/],
    ['a bad entry in a list', { ...gossip, clusterCidr: ['10.244.0.0/16', 'fd00::1/56'] }, /"clusterCidr\[1\]": expected a CIDR with no host bits set/],
    ['an IPv6 cluster too large to count', { ...gossip, clusterCidr: '10.244.0.0/16,fd00::/32' }, /"clusterCidr": expected an IPv6 CIDR from \/48 to \/64 \(each node takes a \/64\)/],
    ['an IPv6 cluster smaller than a node', { ...gossip, clusterCidr: '10.244.0.0/16,fd00::/80' }, /from \/48 to \/64/],
    ['a link-local IPv6 cluster', { ...gossip, clusterCidr: '10.244.0.0/16,fe80::/56' }, /"clusterCidr": expected a unicast IPv6 prefix/],
    ['a multicast IPv6 cluster', { ...gossip, clusterCidr: '10.244.0.0/16,ff02::/56' }, /"clusterCidr": expected a unicast IPv6 prefix/],
    ['ipv6 off beside an IPv6 cluster', { ...gossip, ipv6: false, clusterCidr: '10.244.0.0/16,fd00::/56' }, /"ipv6": expected true, or leave it out, when clusterCidr lists an IPv6 CIDR/],
    ['ipv6 as text', { ...gossip, ipv6: 'yes' }, /"ipv6": expected true or false/],
    ['an IPv6 subnet in an IPv4 cluster', { ...base, subnet: '10.244.1.0/24,fd00:10:244:1::/64' }, /"subnet": expected an IPv6 subnet only in a dual-stack cluster/],
    ['an IPv6 subnet alone', { ...gossip, ipv6: true, subnet: 'fd00:10:244:1::/64' }, /"subnet": expected an IPv4 subnet, alone or with an IPv6 one/],
    ['an IPv6 subnet outside the cluster', { ...gossip, ipv6: true, subnet: '10.244.1.0/24,fd00:99::/64' }, /"subnet": expected an IPv6 subnet inside fd00:10:244::\/56/],
    ['an IPv6 subnet not a /64 under gossip', { ...gossip, ipv6: true, subnet: '10.244.1.0/24,fd00:10:244:1::/80' }, /"subnet": expected an IPv6 \/64 under gossip/],
    ['a dual-stack node without gossip or an IPv6 subnet', { ...base, ipv6: true }, /"subnet": expected an IPv6 subnet as well in a dual-stack cluster without gossip/],
    ['an IPv4 subnet outside a listed cluster', { ...base, clusterCidr: ['10.9.0.0/16', 'fd00::/56'] }, /"subnet": expected a subnet inside clusterCidr 10.9.0.0\/16/],
  ];
  for (const [what, raw, message] of bad) {
    it(`rejects ${what}, naming the field and a valid value`, () => {
      expect(errorOf(raw)).toMatch(message);
    });
  }
});

describe('static peers per family', () => {
  const dual = { ...base, clusterCidr: '10.244.0.0/16,fd00:10:244::/56', subnet: '10.244.1.0/24,fd00:10:244:1::/64' };

  it('takes one subnet per family for a peer, IPv4 first', () => {
    const c = parseConfig({ ...dual, peers: [{ name: 'node-b', endpoint: '192.168.50.2', subnet: ['fd00:10:244:2::/64', '10.244.2.0/24'] }] });
    expect(c.peers[0]!.subnets.map(formatCidr)).toEqual(['10.244.2.0/24', 'fd00:10:244:2::/64']);
    expect(parseConfig({ ...dual, peers: [{ name: 'node-b', endpoint: '192.168.50.2', subnet: '10.244.2.0/24' }] }).peers[0]!.subnets).toHaveLength(1);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['a peer overlapping our IPv6 subnet', { ...dual, peers: [{ name: 'b', endpoint: '192.168.50.2', subnet: '10.244.2.0/24,fd00:10:244:1::/64' }] }, /"peers\[0\].subnet": expected a subnet that does not overlap this node's fd00:10:244:1::\/64/],
    ['two peers overlapping in IPv6', {
      ...dual,
      peers: [
        { name: 'b', endpoint: '192.168.50.2', subnet: '10.244.2.0/24,fd00:10:244:2::/64' },
        { name: 'c', endpoint: '192.168.50.3', subnet: '10.244.3.0/24,fd00:10:244:2::/64' },
      ],
    }, /"peers\[1\].subnet": expected a subnet that does not overlap peer "b"/],
    ['a peer with two IPv4 subnets', { ...dual, peers: [{ name: 'b', endpoint: '192.168.50.2', subnet: '10.244.2.0/24,10.244.3.0/24' }] }, /"peers\[0\].subnet": expected at most one IPv4 CIDR/],
    ['a missing peer subnet', { ...dual, peers: [{ name: 'b', endpoint: '192.168.50.2' }] }, /"peers\[0\].subnet": expected a non-empty string such as "10.244.2.0\/24"/],
    ['a bad IPv6 entry, shown an IPv6 example', { ...dual, clusterCidr: '10.244.0.0/16,fd00:10:244::1/56' }, /"clusterCidr": expected a CIDR with no host bits set, such as fd00:10:244::\/56/],
  ];
  for (const [what, raw, message] of bad) {
    it(`rejects ${what}`, () => {
      expect(errorOf(raw)).toMatch(message);
    });
  }
});
