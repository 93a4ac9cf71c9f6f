import { describe, expect, it } from 'vitest';
import { showconf } from '../../../src/cli/showconf.ts';
import { nodeStatus } from '../../../src/cli/node-status.ts';
import type { NodeStatus } from '../../../src/cli/node-status.ts';
import { statusParts } from '../../helpers/status-fixture.ts';

const status = (backend: 'vxlan' | 'wireguard'): NodeStatus => {
  const parts = statusParts(backend);
  parts.node.name = 'n1';
  parts.node.underlay = '192.0.2.1:51820';
  if (parts.backend.kind === 'wireguard') parts.backend.node.publicKey = 'NODEKEY';
  return { ...nodeStatus(parts), peers: [{ name: 'laptop', backend: 'wireguard', endpoint: null, subnets: ['10.250.0.5/32'], txBytes: 0, rxBytes: 0, txPackets: 0, rxPackets: 0, publicKey: 'LAPKEY' }] };
};

describe('showconf', () => {
  it('leaves the private key as a comment naming whose key belongs there', () => {
    const text = showconf(status('wireguard'), 'laptop');
    expect(text).toContain('# PrivateKey = (the private key of laptop, whose public key is LAPKEY; weft never holds it)');
    expect(text).toContain('Address = 10.250.0.5/32\n');
    expect(text).toContain('PublicKey = NODEKEY\nEndpoint = 192.0.2.1:51820\nAllowedIPs = 10.244.0.0/16\n');
  });

  it('routes every family of a dual-stack pod network through the node, and writes an IPv6 endpoint in brackets', () => {
    const parts = statusParts('wireguard');
    parts.node.name = 'n1';
    parts.node.underlay = '[fd99::1]:51820';
    parts.node.subnet6 = 'fd00:10:244:1::/64';
    parts.node.clusterCidr6 = 'fd00:10:244::/56';
    const s: NodeStatus = { ...nodeStatus(parts), peers: [{ name: 'laptop', backend: 'wireguard', endpoint: null, subnets: ['10.250.0.5/32', 'fd00:250::5/128'], txBytes: 0, rxBytes: 0, txPackets: 0, rxPackets: 0, publicKey: 'LAPKEY' }] };
    const text = showconf(s, 'laptop');
    expect(text).toContain('Address = 10.250.0.5/32, fd00:250::5/128\n');
    expect(text).toContain('# node n1, subnet 10.244.1.0/24, fd00:10:244:1::/64\n');
    expect(text).toContain('Endpoint = [fd99::1]:51820\nAllowedIPs = 10.244.0.0/16, fd00:10:244::/56\n');
  });

  it('explains what is wrong: another backend, an unknown peer', () => {
    expect(() => showconf(status('vxlan'), 'laptop')).toThrow(/needs the wireguard backend; node n1 runs vxlan/u);
    expect(() => showconf(status('wireguard'), 'phone')).toThrow(/no peer "phone" \(peers: laptop\); add it to the node's config/u);
  });
});
