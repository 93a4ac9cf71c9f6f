import { describe, expect, it } from 'vitest';
import { subnetEnvText } from '../../../src/cli/subnet-env.ts';
import { parseSubnetEnv } from '../../../src/cni/subnet-env.ts';
import { parseCidr } from '../../../src/wire/addr.ts';

const v4 = { clusterCidr: parseCidr('10.244.0.0/16'), subnet: parseCidr('10.244.1.0/24') };

describe('subnet.env', () => {
  it('an IPv4-only node writes the four lines it always did', () => {
    expect(subnetEnvText({ ...v4, clusterCidr6: undefined, subnet6: undefined }, 1450)).toBe(
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n',
    );
  });

  it('a dual-stack node adds Flannel\'s IPv6 pair, the subnet as its first address', () => {
    const text = subnetEnvText({ ...v4, clusterCidr6: parseCidr('fd00:10:244::/56'), subnet6: parseCidr('fd00:10:244:1::/64') }, 1450);
    expect(text).toBe(
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n' +
        'FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\n' +
        'FLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n',
    );
    // weft-cni reads it as before (it takes the IPv4 lines and skips the rest).
    expect(parseSubnetEnv('subnet.env', text)).toMatchObject({ mtu: 1450, v4: { subnet: { bits: 24 } } });
  });

  it('writes no IPv6 lines for half a pair', () => {
    expect(subnetEnvText({ ...v4, clusterCidr6: parseCidr('fd00:10:244::/56'), subnet6: undefined }, 1400)).not.toMatch(/IPV6/);
  });
});
