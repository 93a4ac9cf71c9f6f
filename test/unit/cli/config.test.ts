import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/cli/config.ts';
import { isWeftError } from '../../../src/errors.ts';
import { deriveVtepMac, formatCidr, formatMac } from '../../../src/wire/addr.ts';

const base = {
  name: 'node-a',
  underlay: { address: '192.168.50.1' },
  subnet: '10.244.1.0/24',
  peers: [{ name: 'node-b', endpoint: '192.168.50.2', subnet: '10.244.2.0/24' }],
};

function errorOf(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (err) {
    expect(isWeftError(err, 'CONFIG_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected parseConfig to reject');
}

describe('parseConfig', () => {
  it('fills Flannel-compatible defaults', () => {
    const c = parseConfig(base);
    expect(c.backend).toBe('vxlan');
    expect(formatCidr(c.clusterCidr!)).toBe('10.244.0.0/16');
    expect(c.vxlan).toMatchObject({ vni: 1, port: 8472, sourceCheck: true });
    expect(c.tun).toEqual({ name: 'weft0', mtu: undefined, offload: true });
    // The fastest transport, on either underlay family; dgram when asked for.
    expect(c.transport).toEqual({ type: 'batch', gso: true, gro: true });
    expect(parseConfig({ ...base, underlay: { address: 'fd00::1' }, peers: [] }).transport).toEqual({ type: 'batch', gso: true, gro: true });
    expect(parseConfig({ ...base, transport: 'dgram' }).transport).toEqual({ type: 'dgram', gso: false, gro: false });
    expect(parseConfig({ ...base, transport: 'batch' }).transport).toEqual({ type: 'batch', gso: false, gro: false });
    expect(c.underlay.mtu).toBe(1500);
    expect(formatMac(c.vxlan.vtepMac)).toBe(formatMac(deriveVtepMac('node-a')));
    expect(c.peers[0]!.endpoint).toEqual({ address: '192.168.50.2', port: 8472 });
    expect(formatMac(c.peers[0]!.vtepMac!)).toBe(formatMac(deriveVtepMac('node-b')));
  });

  it('takes explicit values, including an IPv6 endpoint and a kernel peer MAC', () => {
    const c = parseConfig({
      ...base,
      vxlan: { vni: 42, port: 4789, vtepMac: '0e:00:00:00:00:01', sourceCheck: false },
      tun: { name: 'ov0', mtu: 1400 },
      peers: [{ name: 'k', endpoint: '[fd00::2]:9999', subnet: '10.244.2.0/24', vtepMac: '0e:aa:bb:cc:dd:ee' }],
    });
    expect(c.vxlan.vni).toBe(42);
    expect(c.tun.mtu).toBe(1400);
    expect(c.peers[0]!.endpoint).toEqual({ address: 'fd00::2', port: 9999 });
    expect(formatMac(c.peers[0]!.vtepMac!)).toBe('0e:aa:bb:cc:dd:ee');
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['a missing name', { ...base, name: undefined }, /"name": expected a non-empty string/],
    ['an invalid name', { ...base, name: 'Node_A' }, /"name": expected a DNS-style name/],
    ['an unknown backend', { ...base, backend: 'ipip' }, /"backend": expected "vxlan"/],
    ['an unknown field', { ...base, subnett: 'x' }, /"subnett" is not known; valid fields here: name, location, stateDir, gossip, backend/],
    ['an unknown nested field', { ...base, vxlan: { vin: 1 } }, /"vxlan.vin" is not known/],
    ['a bad underlay address', { ...base, underlay: { address: 'node-a.local' } }, /"underlay.address": expected this node's underlay IP/],
    ['host bits in the subnet', { ...base, subnet: '10.244.1.5/24' }, /"subnet": expected a CIDR with no host bits set/],
    ['a subnet outside the cluster', { ...base, subnet: '10.9.1.0/24' }, /"subnet": expected a subnet inside clusterCidr 10.244.0.0\/16/],
    ['a VNI out of range', { ...base, vxlan: { vni: 16777216 } }, /"vxlan.vni": expected an integer from 0 to 16777215, got 16777216/],
    ['a port as a string', { ...base, vxlan: { port: '8472' } }, /"vxlan.port": expected an integer from 1 to 65535, got "8472"/],
    ['a multicast VTEP MAC', { ...base, vxlan: { vtepMac: '01:00:5e:00:00:01' } }, /"vxlan.vtepMac": expected a unicast MAC/],
    ['a long TUN name', { ...base, tun: { name: 'a-very-long-name0' } }, /"tun.name": expected an interface name of at most 15 bytes/],
    ['offload as a string', { ...base, tun: { offload: 'yes' } }, /"tun.offload": expected true or false/],
    ['GRO on dgram', { ...base, transport: { type: 'dgram', gro: true } }, /"transport.gro": expected false unless transport.type is "batch"/],
    ['peers not a list', { ...base, peers: {} }, /"peers": expected a list/],
    ['a peer with our name', { ...base, peers: [{ name: 'node-a', endpoint: '192.168.50.2', subnet: '10.244.2.0/24' }] }, /"peers\[0\].name": expected a name other than this node's own/],
    ['a duplicate peer', { ...base, peers: [...base.peers, ...base.peers] }, /"peers\[1\].name": expected a name not used by another peer/],
    ['a peer endpoint host name', { ...base, peers: [{ name: 'b', endpoint: 'node-b:8472', subnet: '10.244.2.0/24' }] }, /"peers\[0\].endpoint": expected an IP address and optional port/],
    ['a peer port out of range', { ...base, peers: [{ name: 'b', endpoint: '192.168.50.2:70000', subnet: '10.244.2.0/24' }] }, /"peers\[0\].endpoint": expected a port from 1 to 65535/],
    ['a peer overlapping us', { ...base, peers: [{ name: 'b', endpoint: '192.168.50.2', subnet: '10.244.0.0/16' }] }, /"peers\[0\].subnet": expected a subnet that does not overlap this node's/],
    ['two peers overlapping', { ...base, peers: [...base.peers, { name: 'c', endpoint: '192.168.50.3', subnet: '10.244.2.128/25' }] }, /"peers\[1\].subnet": expected a subnet that does not overlap peer "node-b"/],
  ];
  bad.push(['a metrics address without a port', { ...base, metrics: { listen: 'localhost' } }, /"metrics.listen": expected an IP address and port such as 127.0.0.1:9586, or "off"/]);
  bad.push(['a metrics host name', { ...base, metrics: { listen: 'localhost:9586' } }, /"metrics.listen"/]);

  bad.push(['a scheduling priority above 99', { ...base, scheduling: { priority: 100 } }, /"scheduling.priority": expected an integer from 0 \(normal scheduling, the default\) to 99 \(SCHED_RR\)/]);
  bad.push(['a fractional scheduling priority', { ...base, scheduling: { priority: 2.5 } }, /"scheduling.priority"/]);
  bad.push(['an unknown scheduling field', { ...base, scheduling: { policy: 'fifo' } }, /"scheduling.policy" is not known; valid fields here: priority/]);

  it('runs the data path at normal scheduling by default; a priority asks for SCHED_RR', () => {
    expect(parseConfig(base).scheduling).toEqual({ priority: 0 });
    expect(parseConfig({ ...base, scheduling: { priority: 10 } }).scheduling).toEqual({ priority: 10 });
    expect(parseConfig({ ...base, scheduling: { priority: 99 } }).scheduling).toEqual({ priority: 99 });
  });

  it('serves metrics on loopback by default and takes "off"', () => {
    expect(parseConfig(base).metricsListen).toBe('127.0.0.1:9586');
    expect(parseConfig({ ...base, metrics: { listen: 'off' } }).metricsListen).toBeUndefined();
    expect(parseConfig({ ...base, metrics: { listen: '[::1]:9999' } }).metricsListen).toBe('[::1]:9999');
  });

  for (const [what, raw, message] of bad) {
    it(`rejects ${what} with a message naming the field`, () => {
      expect(errorOf(raw)).toMatch(message);
    });
  }
});
