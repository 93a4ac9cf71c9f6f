/**
 * weft-cni on an IPv6-only node, its pure parts: subnet.env with Flannel's
 * IPv6 pair alone (as weft writes it for clusterCidr fd00:10:244::/56), what
 * is refused beside it, and a result listing the IPv6 address alone in each
 * version's format.
 */
import { describe, expect, it } from 'vitest';
import { appendAttachment, fromPrevious, resultJson } from '../../../src/cni/result.ts';
import { CniError } from '../../../src/cni/spec.ts';
import { parseSubnetEnv } from '../../../src/cni/subnet-env.ts';

const V6 = 'FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\n';
const TAIL = 'FLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n';

function detailsOf(f: () => unknown): string {
  try {
    f();
    return 'no error';
  } catch (err) {
    return err instanceof CniError ? `${err.code}: ${err.details}` : `not a CniError: ${String(err)}`;
  }
}

describe('subnet.env on an IPv6-only node', () => {
  it('reads the IPv6 pair alone: no IPv4 side', () => {
    expect(parseSubnetEnv('f', `${V6}${TAIL}`)).toEqual({
      v4: undefined,
      mtu: 1430,
      v6: {
        clusterCidr: { network: 0xfd000010024400000000000000000000n, bits: 56 },
        subnet: { network: 0xfd000010024400010000000000000000n, bits: 64 },
        gateway: 0xfd000010024400010000000000000001n,
      },
    });
  });

  it.each([
    [`FLANNEL_NETWORK=10.244.0.0/16\n${V6}${TAIL}`, 'FLANNEL_SUBNET is missing'],
    [`FLANNEL_SUBNET=10.244.1.1/24\n${V6}${TAIL}`, 'FLANNEL_NETWORK is missing'],
    [`${V6}FLANNEL_MTU=1200\n`, 'FLANNEL_MTU=1200 is below IPv6\'s minimum 1280, and this node\'s pods are IPv6 only'],
    [TAIL, 'FLANNEL_NETWORK is missing'],
  ])('refuses %j, saying why', (text, why) => {
    expect(detailsOf(() => parseSubnetEnv('f', text))).toMatch(new RegExp(`^7: ${why.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&')}`, 'u'));
  });
});

describe('an IPv6-only result', () => {
  const interfaces = [
    { name: 'cni0', mac: '0a:58:00:00:00:01', mtu: 1430 },
    { name: 'veth0', mac: '0e:58:00:00:00:02', mtu: 1430 },
    { name: 'eth0', mac: '0a:58:00:00:00:02', mtu: 1430, sandbox: '/run/netns/x' },
  ];
  const r = appendAttachment(fromPrevious(undefined), interfaces, [{ address: 'fd00:10:244:1::2/64', gateway: 'fd00:10:244:1::1', interfaceOffset: 2 }], [
    { dst: 'fd00:10:244::/56', gw: 'fd00:10:244:1::1' },
    { dst: '::/0', gw: 'fd00:10:244:1::1' },
  ], undefined);

  it.each([
    ['0.4.0', '"version":"6",', ''],
    ['1.1.0', '', ',"mtu":1430'],
  ])('%s', (version, family, mtu) => {
    expect(resultJson(r, version as '0.4.0')).toBe(
      `{"cniVersion":"${version}","interfaces":[{"name":"cni0","mac":"0a:58:00:00:00:01"${mtu}},{"name":"veth0","mac":"0e:58:00:00:00:02"${mtu}},{"name":"eth0","mac":"0a:58:00:00:00:02"${mtu},"sandbox":"/run/netns/x"}],` +
        `"ips":[{${family}"address":"fd00:10:244:1::2/64","gateway":"fd00:10:244:1::1","interface":2}],"routes":[{"dst":"fd00:10:244::/56","gw":"fd00:10:244:1::1"},{"dst":"::/0","gw":"fd00:10:244:1::1"}],"dns":{}}`,
    );
  });
});
