/**
 * IPv6-only pod networks: clusterCidr with only an IPv6 CIDR. The config
 * takes it (no IPv4 cluster, subnet or VTEP address), subnet.env carries
 * Flannel's IPv6 pair alone, and status names the IPv6 side only.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/cli/config.ts';
import { clusterCidrsOf } from '../../../src/cli/config-network.ts';
import { vtepIpOf } from '../../../src/cli/dataplane-factory.ts';
import { networkFields } from '../../../src/cli/node-status.ts';
import { subnetEnvText } from '../../../src/cli/subnet-env.ts';
import { formatStatus } from '../../../src/cli/status-format.ts';
import { nodeStatus } from '../../../src/cli/node-status.ts';
import { isWeftError } from '../../../src/errors.ts';
import { formatCidr, parseCidr } from '../../../src/wire/addr.ts';
import { thrownBy } from '../../helpers/errors.ts';
import { statusParts } from '../../helpers/status-fixture.ts';

const KEY = 'YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=';
const gossip = { name: 'node-a', underlay: { address: 'fd99::1' }, gossip: { clusterKey: KEY }, clusterCidr: 'fd00:10:244::/56' };
const fixed = { name: 'node-a', underlay: { address: 'fd99::1' }, clusterCidr: 'fd00:10:244::/56', subnet: 'fd00:10:244:1::/64' };

function errorOf(raw: unknown): string {
  const err = thrownBy(() => parseConfig(raw));
  expect(isWeftError(err, 'CONFIG_INVALID')).toBe(true);
  return (err as Error).message;
}

describe('IPv6-only pod network', () => {
  it('is an IPv6 cluster CIDR alone: no IPv4 cluster, subnet or VTEP address', () => {
    const g = parseConfig(gossip);
    expect([g.clusterCidr, g.subnet, g.subnet6]).toEqual([undefined, undefined, undefined]);
    expect(formatCidr(g.clusterCidr6!)).toBe('fd00:10:244::/56');
    expect(clusterCidrsOf(g).map(formatCidr)).toEqual(['fd00:10:244::/56']);
    const f = parseConfig(fixed);
    expect([f.subnet, formatCidr(f.subnet6!)]).toEqual([undefined, 'fd00:10:244:1::/64']);
    expect(vtepIpOf(f)).toBe(0);
    // And over an IPv4 underlay just as well.
    expect(formatCidr(parseConfig({ ...fixed, underlay: { address: '10.99.0.1' } }).subnet6!)).toBe('fd00:10:244:1::/64');
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['an IPv4 subnet', { ...fixed, subnet: '10.244.1.0/24' }, /"subnet": expected an IPv6 subnet only, such as fd00:10:244:1::\/64, in an IPv6-only pod network \(or add an IPv4 CIDR to clusterCidr/],
    ['both subnets', { ...fixed, subnet: '10.244.1.0/24,fd00:10:244:1::/64' }, /"subnet": expected an IPv6 subnet only/],
    ['no subnet without gossip', { ...fixed, subnet: undefined }, /"subnet": expected this node's pod subnet/],
    ['a subnet outside the cluster', { ...fixed, subnet: 'fd00:10:245:1::/64' }, /"subnet": expected an IPv6 subnet inside fd00:10:244::\/56/],
    ['ipv6 turned off', { ...gossip, ipv6: false }, /"ipv6": expected true, or leave it out/],
  ];
  for (const [what, raw, message] of bad) it(`refuses ${what}, naming the field and the fix`, () => expect(errorOf(raw)).toMatch(message));

  it('subnet.env carries Flannel\'s IPv6 pair and no IPv4 lines', () => {
    const text = subnetEnvText({ clusterCidr: undefined, subnet: undefined, clusterCidr6: parseCidr('fd00:10:244::/56'), subnet6: parseCidr('fd00:10:244:1::/64') }, 1430);
    expect(text).toBe('FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n');
  });

  it('status names the IPv6 subnet and cluster alone', () => {
    const net = { subnet: undefined, subnet6: parseCidr('fd00:10:244:1::/64'), clusterCidr: undefined, clusterCidr6: parseCidr('fd00:10:244::/56') };
    expect(networkFields(net)).toEqual({ subnet6: 'fd00:10:244:1::/64', clusterCidr6: 'fd00:10:244::/56' });
    const parts = statusParts('vxlan');
    const { subnet: _s, clusterCidr: _c, ...node } = parts.node;
    parts.node = { ...node, ...networkFields(net) };
    expect(formatStatus(nodeStatus(parts))).toMatch(/^ {2}subnet: fd00:10:244:1::\/64 \(cluster fd00:10:244::\/56\)$/mu);
  });
});
