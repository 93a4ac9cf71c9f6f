/**
 * underlay.address per family: one address, or one per family (a dual
 * underlay), and the TUN MTU derived from the families a node sends on.
 */
import { describe, expect, it } from 'vitest';
import { checkMtu, underlayOverhead } from '../../../src/cli/config-checks.ts';
import { parseConfig } from '../../../src/cli/config.ts';
import { underlayFamilies } from '../../../src/cli/config-network.ts';
import { loadConfig } from '../../../src/cli/config-load.ts';
import { underlayStatus, underlayText } from '../../../src/cli/node-parts.ts';
import { nodeStatus } from '../../../src/cli/node-status.ts';
import { formatStatus } from '../../../src/cli/status-format.ts';
import { statusParts } from '../../helpers/status-fixture.ts';
import { isWeftError } from '../../../src/errors.ts';
import { thrownBy } from '../../helpers/errors.ts';

const KEY = 'YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=';
const WG = { privateKey: 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=' };
const config = (address: unknown, extra: Record<string, unknown> = {}) => parseConfig({ name: 'node-a', underlay: { address }, subnet: '10.244.1.0/24', ...extra });
const gossiping = (address: unknown) => parseConfig({ name: 'node-a', underlay: { address }, gossip: { clusterKey: KEY } });

function errorOf(f: () => unknown): string {
  const err = thrownBy(f);
  expect(isWeftError(err, 'CONFIG_INVALID')).toBe(true);
  return (err as Error).message;
}

describe('underlay.address', () => {
  it('one address binds there and is announced, as before', () => {
    expect(config('192.168.50.1').underlay).toEqual({ address: '192.168.50.1', addresses: ['192.168.50.1'], mtu: 1500 });
    expect(config('fd00:50::1').underlay.addresses).toEqual(['fd00:50::1']);
  });

  it('one per family (pair or list, either order, kept): the sockets bind to ::, both announced', () => {
    const pair = config('192.168.50.1, FD00:50:0::1');
    expect(pair.underlay).toEqual({ address: '::', addresses: ['192.168.50.1', 'fd00:50::1'], mtu: 1500 });
    expect(underlayFamilies(pair.underlay)).toEqual([4, 6]);
    const list = config(['fd00:50::1', '192.168.50.1']);
    expect(list.underlay.addresses).toEqual(['fd00:50::1', '192.168.50.1']);
    expect(underlayFamilies(list.underlay)).toEqual([6, 4]);
    expect(underlayFamilies(config('::').underlay)).toEqual([6, 4]);
    expect(underlayFamilies(config('0.0.0.0').underlay)).toEqual([4]);
  });

  it('takes the pair from --underlay-address and WEFT_UNDERLAY_ADDRESS', () => {
    const flags = { '--name': 'solo', '--underlay-address': '192.0.2.9,fd99::9', '--metrics': 'off', '--subnet': '10.244.9.0/24' };
    expect(loadConfig(undefined, flags, {}).underlay.addresses).toEqual(['192.0.2.9', 'fd99::9']);
    const env = { WEFT_NAME: 'solo', WEFT_UNDERLAY_ADDRESS: 'fd99::9,192.0.2.9', WEFT_METRICS: 'off', WEFT_SUBNET: '10.244.9.0/24' };
    expect(loadConfig(undefined, {}, env).underlay.addresses).toEqual(['fd99::9', '192.0.2.9']);
  });

  it('status names both endpoints, the first configured first (showconf\'s Endpoint takes that one alone)', () => {
    const dual = config('fd00:50::1,192.168.50.1');
    expect(underlayStatus(dual, 8472)).toEqual({ underlay: '[fd00:50::1]:8472', underlaySecond: '192.168.50.1:8472' });
    expect(underlayStatus(config('192.168.50.1'), 8472)).toEqual({ underlay: '192.168.50.1:8472' });
    expect(underlayText(dual, 8472)).toBe('[fd00:50::1]:8472, 192.168.50.1:8472');
    const parts = statusParts('vxlan');
    parts.node = { ...parts.node, ...underlayStatus(dual, 8472) };
    expect(formatStatus(nodeStatus(parts))).toMatch(/^ {2}underlay: \[fd00:50::1\]:8472, 192\.168\.50\.1:8472$/mu);
  });

  const bad: Array<[string, () => unknown, RegExp]> = [
    ['two IPv4 addresses', () => config('192.168.50.1,192.168.50.2'), /"underlay.address": expected at most one IPv4 address \(one per family\), such as "192.168.50.1,fd00:50::1"/],
    ['three addresses', () => config(['192.168.50.1', 'fd00::1', 'fd00::2']), /"underlay.address": expected this node's underlay IP address, or one per family/],
    ['an empty list', () => config([]), /"underlay.address": expected this node's underlay IP address, or one per family/],
    ['a name in the pair', () => config('192.168.50.1,node-a.local'), /"underlay.address": expected this node's underlay IP address, such as 192.168.50.1, or one per family/],
    ['a wildcard in a pair', () => config('0.0.0.0,fd00::1'), /"underlay.address": expected this node's own address in each family/],
    ['a wildcard under gossip', () => gossiping('::'), /"underlay.address": expected this node's own address, which gossip announces to its peers \(not ::\); to be reached on both families give one per family/],
    ['0.0.0.0 under gossip', () => gossiping('0.0.0.0'), /not 0\.0\.0\.0/],
  ];
  for (const [what, f, message] of bad) it(`refuses ${what}, naming the field and the fix`, () => expect(errorOf(f)).toMatch(message));
});

describe('the TUN MTU from the underlay families', () => {
  it('an IPv4 underlay takes IPv4 overhead; any IPv6 (alone, one per family, or ::) takes IPv6 overhead, the larger', () => {
    const cases: Array<[unknown, number, number]> = [
      ['192.168.50.1', 50, 60],
      ['0.0.0.0', 50, 60],
      ['fd00:50::1', 70, 80],
      ['::', 70, 80],
      ['192.168.50.1,fd00:50::1', 70, 80],
      [['fd00:50::1', '192.168.50.1'], 70, 80],
    ];
    for (const [address, vxlan, wireguard] of cases) {
      expect(underlayOverhead('vxlan', config(address).underlay)).toBe(vxlan);
      expect(underlayOverhead('wireguard', config(address, { backend: 'wireguard', wireguard: WG }).underlay)).toBe(wireguard);
      expect(underlayOverhead('mixed', config(address).underlay)).toBe(wireguard);
      expect(checkMtu(config(address), undefined)).toBe(1500 - vxlan);
      expect(checkMtu(config(address, { backend: 'wireguard', wireguard: WG }), undefined)).toBe(1500 - wireguard);
    }
  });

  it('a configured tun.mtu too large for IPv6 overhead on a dual underlay is refused with the largest that fits', () => {
    expect(errorOf(() => checkMtu(config('192.168.50.1,fd00:50::1', { tun: { mtu: 1450 } }), undefined))).toMatch(
      /"tun.mtu": 1450 \+ 70 bytes of VXLAN overhead \(IPv4 and IPv6 underlay\) exceeds underlay.mtu 1500; set tun.mtu to 1430 or less/u,
    );
    expect(checkMtu(config('192.168.50.1,fd00:50::1', { tun: { mtu: 1430 } }), undefined)).toBe(1430);
  });

  it('of two underlay devices the smaller MTU decides, and the error names the address it holds', () => {
    expect(checkMtu(config('192.168.50.1,fd00:50::1', { underlay: { address: '192.168.50.1,fd00:50::1', mtu: 1400 } }), { name: 'ul6', mtu: 1400, holds: 'fd00:50::1' })).toBe(1330);
    expect(errorOf(() => checkMtu(config('192.168.50.1,fd00:50::1'), { name: 'ul6', mtu: 1400, holds: 'fd00:50::1' }))).toMatch(/the MTU 1400 of ul6, which holds fd00:50::1; set underlay.mtu to 1400/u);
  });
});
