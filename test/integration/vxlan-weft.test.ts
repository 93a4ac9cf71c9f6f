/**
 * weft to weft over VXLAN: two node namespaces on a veth underlay, each
 * running `weft up`, a pod namespace behind each. Pods ping each other and
 * move 20 MB over TCP in both directions, checked by sha256.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { ping, peerOf, startWeft, twoNodes, waitForLog, weftMain } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';
import { expectTcpIntact } from '../helpers/overlay-checks.ts';

const root = requireRoot();
const MB20 = 20 * 1024 * 1024;

describe.skipIf(!root)('VXLAN: weft <-> weft', () => {
  const sb = new NetnsSandbox();
  let nodes: TwoNodes;
  let wa: WeftProcess;
  let wb: WeftProcess;

  beforeAll(async () => {
    nodes = await twoNodes(sb);
    const { a, b } = nodes;
    wa = await startWeft(sb, a, [peerOf(b)]);
    wb = await startWeft(sb, b, [peerOf(a)]);
  });

  afterAll(async () => {
    await sb.destroy();
  });

  it('reports a derived VTEP and the MTU of the underlay minus 50 bytes', () => {
    expect(wa.ready).toMatchObject({ backend: 'vxlan', tun: 'weft0', mtu: 1450, vtepIp: '10.244.1.0', vni: 1, subnet: '10.244.1.0/24' });
    expect(String(wa.ready.vtepMac)).toMatch(/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/u);
  });

  it('pods ping each other across nodes', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
    expect(await ping(sb, nodes.b.podNs, nodes.a.podIp)).toBe(3);
  });

  it('carries full-size packets (1422-byte ICMP payloads fill the 1450-byte MTU)', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp, 3, 1422)).toBe(3);
  });

  it('moves 20 MB over TCP from pod a to pod b, byte for byte', () => expectTcpIntact(sb, nodes.a, nodes.b, MB20));

  it('moves 20 MB over TCP from pod b to pod a, byte for byte', () => expectTcpIntact(sb, nodes.b, nodes.a, MB20, 5202));

  it('weft status shows the node and its peer, in the manner of wg show, and as JSON', async () => {
    const main = weftMain();
    const human = await sb.run(nodes.a.ns, [process.execPath, main, 'status', '--socket', wa.controlSocket]);
    expect(human).toContain('node: node-a');
    expect(human).toContain('  backend: vxlan');
    expect(human).toContain('  subnet: 10.244.1.0/24 (cluster 10.244.0.0/16)');
    expect(human).toContain('  device: weft0 (mtu 1450, offload on)');
    expect(human).toMatch(/^receive wait: p50 (<=|>) [\d.]+ (us|ms), p99 (<=|>) [\d.]+ (us|ms) \(\d+ since start\)$/mu);
    expect(human).toMatch(/peer: node-b\n {2}backend: vxlan\n {2}endpoint: 10\.99\.0\.2:8472\n {2}subnets: 10\.244\.2\.0\/24\n {2}transfer: [\d.]+ MiB received, [\d.]+ MiB sent/u);
    const json = JSON.parse(await sb.run(nodes.a.ns, [process.execPath, main, 'status', '--json', '--socket', wa.controlSocket])) as {
      node: { name: string; mtu: number };
      peers: Array<{ name: string; rxBytes: number; txPackets: number }>;
    };
    expect(json.node).toMatchObject({ name: 'node-a', mtu: 1450, offload: 'on' });
    expect(json.peers[0]!.name).toBe('node-b');
    expect(json.peers[0]!.rxBytes).toBeGreaterThan(20 * 1024 * 1024);
    const r = await sb.exec(nodes.a.ns, [process.execPath, main, 'status', '--socket', '/nonexistent/weft.sock']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no weft node is running there');
  });

  it('serves Prometheus metrics on the node\'s loopback: traffic per peer, drops, ring, event-loop lag', async () => {
    const get = "require('http').get('http://127.0.0.1:9586/metrics',r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>process.stdout.write(b))})";
    const text = await sb.run(nodes.a.ns, [process.execPath, '-e', get]);
    expect(text).toContain('weft_info{node="node-a",backend="vxlan",subnet="10.244.1.0/24"} 1');
    const tx = /weft_peer_transmit_bytes_total\{peer="node-b"\} (\d+)/u.exec(text);
    expect(Number(tx?.[1])).toBeGreaterThan(20 * 1024 * 1024);
    expect(text).toMatch(/weft_drops_total\{reason="spoofed_source"\} 0/u);
    expect(text).toMatch(/weft_ring_slots\{state="free"\} \d+/u);
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect(text).toContain('# TYPE weft_peer_receive_bytes_total counter');
    // TUN offloads are on by default: pod a's 20 MB left its kernel as super-packets that weft cut up.
    const superPackets = Number(/weft_tun_offload_total\{event="super_packets"\} (\d+)/u.exec(text)?.[1]);
    const segments = Number(/weft_tun_offload_total\{event="segments"\} (\d+)/u.exec(text)?.[1]);
    expect(superPackets).toBeGreaterThan(0);
    expect(segments).toBeGreaterThan(superPackets);
    expect(text).toMatch(/weft_tun_offload_drops_total\{reason="gso_unsupported"\} 0/u);
    // Every message pod b's 20 MB came back in had an arrival stamp, and so a wait, counted once.
    const waits = Number(/^weft_receive_wait_seconds_count (\d+)$/mu.exec(text)?.[1]);
    expect(waits).toBeGreaterThan(0);
    expect(text).toContain(`weft_receive_wait_seconds_bucket{le="+Inf"} ${waits}`);
  });

  it('applies a changed peer file on SIGHUP: a removed peer gets no traffic, a restored one does', async () => {
    const { a, b } = nodes;
    const config = JSON.parse(readFileSync(wa.configPath, 'utf8')) as { peers: unknown[] };
    writeFileSync(wa.configPath, JSON.stringify({ ...config, peers: [] }));
    wa.proc.child.kill('SIGHUP');
    await waitForLog(wa.proc, 'peers reloaded', 5000);
    expect(await ping(sb, a.podNs, b.podIp, 2)).toBe(0);
    writeFileSync(wa.configPath, JSON.stringify(config));
    wa.proc.child.kill('SIGHUP');
    for (let i = 0; i < 100 && (wa.proc.stderr().match(/peers reloaded/gu) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await ping(sb, a.podNs, b.podIp, 2)).toBe(2);
  });

  it('writes a Flannel-compatible subnet.env for CNI plugins', () => {
    expect(readFileSync(wa.subnetEnv, 'utf8')).toBe('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
  });

  it('stops on SIGTERM with exit 0 and leaves no device or route behind', async () => {
    expect(await wb.stop()).toBe(0);
    const links = await sb.run(nodes.b.ns, ['ip', '-o', 'link', 'show']);
    expect(links).not.toContain('weft0');
    const routes = await sb.run(nodes.b.ns, ['ip', 'route', 'show']);
    expect(routes).not.toContain('10.244.0.0/16');
    expect(await wa.stop()).toBe(0);
  });
});
