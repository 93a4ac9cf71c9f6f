/**
 * The data plane over two encapsulations, as a mixed node runs it: one
 * peer table, one route lookup per packet, the peer's encapsulation chosen
 * by the rule, peers moving between encapsulations when their location
 * changes, and the table's checks holding for both.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { PacketRing } from '../../../src/buf/packet-ring.ts';
import { generatePrivateKey, publicKey } from '../../../src/crypto/x25519.ts';
import { Dataplane } from '../../../src/dataplane/dataplane.ts';
import { Received } from '../../../src/dataplane/encapsulation.ts';
import type { PeerSpec } from '../../../src/dataplane/peer.ts';
import { MemoryNetwork } from '../../../src/transport/memory-transport.ts';
import { VxlanEncapsulation } from '../../../src/vxlan/vxlan-encapsulation.ts';
import { deriveVtepMac, formatCidr, parseCidr, parseIpv4 } from '../../../src/wire/addr.ts';
import { WireguardEncapsulation } from '../../../src/wireguard/wireguard-encapsulation.ts';
import { uapiDevice } from '../../../src/wireguard/uapi-device.ts';
import { icmpEcho } from '../../helpers/packets.ts';

let ring: PacketRing;
let net: MemoryNetwork;
let vxlan: VxlanEncapsulation;
let wireguard: WireguardEncapsulation;
let dp: Dataplane;
/** Datagrams that arrived at the far ends, by "address:port". */
let arrived: Map<string, number>;

function listen(address: string, port: number): void {
  const r = new PacketRing({ slots: 16 });
  net.attach(r, address, port).onReceive((slot) => {
    arrived.set(`${address}:${port}`, (arrived.get(`${address}:${port}`) ?? 0) + 1);
    r.release(slot);
  });
}

function send(dst: string): void {
  const slot = ring.acquire();
  const pkt = icmpEcho({ src: '10.244.1.5', dst });
  ring.bytes.set(pkt, ring.offset[slot]!);
  ring.length[slot] = pkt.length;
  dp.send(slot);
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

const KEY_FAR = publicKey(generatePrivateKey());
const near = (name: string, n: number, extra: Partial<PeerSpec> = {}): PeerSpec => ({
  name,
  endpoint: { address: `192.0.2.${n}`, port: 8472 },
  subnets: [parseCidr(`10.244.${n}.0/24`)],
  vtepMac: deriveVtepMac(name),
  location: 'here',
  ...extra,
});

beforeEach(() => {
  ring = new PacketRing({ slots: 32 });
  net = new MemoryNetwork();
  arrived = new Map();
  vxlan = new VxlanEncapsulation({ ring, transport: net.attach(ring, '192.0.2.1', 8472), vtepMac: deriveVtepMac('a'), vtepIp: parseIpv4('10.244.1.0') });
  wireguard = new WireguardEncapsulation({ ring, transport: net.attach(ring, '192.0.2.1', 51820), privateKey: generatePrivateKey(), mtu: 1420 });
  dp = new Dataplane({ ring, encapsulations: [vxlan, wireguard], choose: Dataplane.byLocation('here', vxlan, wireguard) });
  listen('192.0.2.2', 8472);
  listen('198.51.100.3', 51820);
});

describe('Dataplane under the mixed rule', () => {
  it('reaches a peer in our location over VXLAN and one elsewhere over WireGuard, from one route table', async () => {
    dp.addPeer(near('b', 2));
    dp.addPeer({ name: 'c', endpoint: { address: '198.51.100.3', port: 51820 }, subnets: [parseCidr('10.244.3.0/24')], publicKey: KEY_FAR, location: 'there' });
    expect(dp.peers().map((p) => [p.name, p.backend])).toEqual([['b', 'vxlan'], ['c', 'wireguard']]);
    expect(dp.table.routes.size).toBe(2);
    send('10.244.2.9');
    send('10.244.3.9'); // no keypair yet: staged, and an initiation goes out
    await settle();
    expect(arrived.get('192.0.2.2:8472')).toBe(1);
    expect(arrived.get('198.51.100.3:51820')).toBe(1);
    expect(wireguard.peer('c')!.stagedCount).toBe(1);
    wireguard.stop();
    expect(ring.free).toBe(32);
  });

  it('counts a packet with no route once, as the data plane\'s drop, whichever encapsulations run', () => {
    dp.addPeer(near('b', 2));
    send('10.9.9.9');
    expect(dp.drops()).toMatchObject({ no_route: 1, vxlan_bad_ip: 0, wireguard_no_route: 0 });
    expect(ring.free).toBe(32);
  });

  it('moves a peer to the other encapsulation when its location changes, routes and all', async () => {
    dp.addPeer(near('b', 2, { publicKey: KEY_FAR }));
    dp.updatePeer(near('b', 2, { publicKey: KEY_FAR, location: 'there' }));
    expect(dp.peers().map((p) => p.backend)).toEqual(['wireguard']);
    expect(wireguard.peer('b')).toBeDefined();
    // Its address no longer names a VXLAN sender, its key now names a WireGuard peer.
    expect(dp.table.byAddress('192.0.2.2')).toBeUndefined();
    expect(dp.table.routes.lookupV4(parseIpv4('10.244.2.9'))).toBe(wireguard.peer('b'));
    dp.updatePeer(near('b', 2, { publicKey: KEY_FAR }));
    expect(dp.peers().map((p) => p.backend)).toEqual(['vxlan']);
    expect(wireguard.peer('b')).toBeUndefined();
    send('10.244.2.9');
    await settle();
    expect(arrived.get('192.0.2.2:8472')).toBe(1);
    expect(ring.free).toBe(32);
  });

  it('lets a spec name its encapsulation (wg set adds WireGuard peers whatever their location)', () => {
    dp.addPeer({ name: 'w', subnets: [parseCidr('10.250.0.5/32')], publicKey: KEY_FAR, via: 'wireguard' });
    expect(dp.peers().map((p) => p.backend)).toEqual(['wireguard']);
  });

  it('keeps a peer whole when a change is refused', async () => {
    dp.addPeer(near('b', 2));
    dp.addPeer(near('c', 3));
    expect(() => dp.updatePeer(near('b', 2, { subnets: [parseCidr('10.244.3.0/24')] }))).toThrow(/10.244.3.0\/24 is already owned by peer "c"/);
    expect(() => dp.updatePeer(near('b', 2, { vtepMac: Uint8Array.of(1, 0, 0, 0, 0, 1) }))).toThrow(/vtepMac/);
    expect(() => dp.updatePeer(near('b', 2, { location: 'there' }))).toThrow(/publicKey/);
    expect(() => dp.updatePeer(near('z', 9))).toThrow(/not configured; add it first/);
    expect(dp.peers().map((p) => [p.name, p.backend, p.subnets.map(formatCidr)])).toEqual([['b', 'vxlan', ['10.244.2.0/24']], ['c', 'vxlan', ['10.244.3.0/24']]]);
    expect(dp.table.byAddress('192.0.2.2')!.name).toBe('b');
    send('10.244.2.9');
    await settle();
    expect(arrived.get('192.0.2.2:8472')).toBe(1);
  });

  it('refuses a second peer with the same key, whichever encapsulation either uses', () => {
    dp.addPeer(near('b', 2, { publicKey: KEY_FAR }));
    expect(() => dp.addPeer({ name: 'c', subnets: [], publicKey: KEY_FAR, location: 'there' })).toThrow(/public key already belongs to peer "b"/);
  });

  it('never lets a VXLAN peer answer a WireGuard handshake, though it has a key', () => {
    dp.addPeer(near('b', 2, { publicKey: KEY_FAR }));
    expect(wireguard.state.peerByKey(Buffer.from(KEY_FAR).toString('hex'))).toBeUndefined();
  });

  it('forgets everything about a removed peer', () => {
    dp.addPeer(near('b', 2, { publicKey: KEY_FAR }));
    expect(dp.removePeer('b')).toBe(true);
    expect(dp.removePeer('b')).toBe(false);
    expect(dp.table.size).toBe(0);
    expect(dp.table.routes.size).toBe(0);
    expect(dp.table.byAddress('192.0.2.2')).toBeUndefined();
    expect(dp.table.byKey(Buffer.from(KEY_FAR).toString('hex'))).toBeUndefined();
    dp.addPeer(near('b2', 2, { publicKey: KEY_FAR }));
  });
});

describe('Dataplane inbound', () => {
  it('drops a datagram from an address no VXLAN peer has, and an inner source outside the sender\'s subnets', () => {
    dp.addPeer(near('b', 2));
    const frame = (src: string) => {
      const inner = icmpEcho({ src, dst: '10.244.1.5' });
      const f = new Uint8Array(22 + inner.length);
      f.set([0x08, 0, 0, 0, 0, 0, 1, 0, ...deriveVtepMac('a'), ...deriveVtepMac('b'), 0x08, 0x00]);
      f.set(inner, 22);
      const slot = ring.acquire();
      ring.bytes.set(f, ring.offset[slot]!);
      ring.length[slot] = f.length;
      return slot;
    };
    expect(dp.receive(frame('10.244.2.7'), '192.0.2.99', 40000, vxlan)).toBe(Received.Dropped);
    expect(dp.receive(frame('10.244.3.7'), '192.0.2.2', 40000, vxlan)).toBe(Received.Dropped);
    const ok = frame('10.244.2.7');
    expect(dp.receive(ok, '192.0.2.2', 40000, vxlan)).toBe(Received.Deliver);
    ring.release(ok);
    expect(dp.drops()).toMatchObject({ unknown_sender: 1, spoofed_source: 1 });
    expect(dp.peers()[0]!.traffic.rxPackets).toBe(1);
    expect(ring.free).toBe(32);
  });
});

describe('wg set through the data plane', () => {
  it('moves an allowed IP to the peer it is set on, as wg(8) does, instead of listing it twice', () => {
    const device = uapiDevice(dp, wireguard, () => 51820, (m) => {
      throw new Error(m);
    });
    const k1 = publicKey(generatePrivateKey());
    const k2 = publicKey(generatePrivateKey());
    const set = (key: Uint8Array, cidr: string) =>
      device.apply({ privateKey: undefined, listenPort: undefined, fwmark: undefined, replacePeers: false, peers: [{ publicKey: key, remove: false, updateOnly: false, presharedKey: undefined, endpoint: undefined, persistentKeepalive: undefined, replaceAllowedIps: false, allowedIps: [parseCidr(cidr)] }] });
    expect(set(k1, '10.250.0.0/24')).toBe(0);
    expect(set(k1, '10.250.1.0/24')).toBe(0);
    expect(set(k2, '10.250.0.0/24')).toBe(0);
    const byKey = new Map(device.state().peers.map((p) => [Buffer.from(p.publicKey).toString('hex'), p.allowedIps.map(formatCidr)]));
    expect(byKey.get(Buffer.from(k1).toString('hex'))).toEqual(['10.250.1.0/24']);
    expect(byKey.get(Buffer.from(k2).toString('hex'))).toEqual(['10.250.0.0/24']);
    expect(dp.table.routes.lookupV4(parseIpv4('10.250.0.9'))!.publicKey).toEqual(k2);
  });
});
