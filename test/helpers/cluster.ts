/**
 * Two-node overlay topologies for integration tests, built from namespaces:
 *
 *   pod-a (10.244.1.2) -- node-a [weft or kernel vxlan] == underlay veth == node-b [...] -- pod-b (10.244.2.2)
 *                         ul0 10.99.0.1/24                                  ul0 10.99.0.2/24
 *                         (or fd99::1/64 and fd99::2/64 on an IPv6 underlay)
 *
 * Every address lives inside namespaces the test created. Pods reach their
 * node over a veth pair (the node side holds the subnet's .1 as gateway), as
 * a CNI bridge plugin would give them, with the overlay MTU.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publicKeyText } from '../../src/crypto/keys.ts';
import { PACKAGE_ROOT, compiledWeft } from '../../scripts/lab/paths.ts';
import type { NetnsSandbox, SandboxProcess } from './netns.ts';
import { endpointText } from '../../src/wire/addr.ts';

/** The package root, from the sources (test/helpers) or compiled into dist/ (for the benches). */
export const ROOT = PACKAGE_ROOT;

export interface OverlayNode {
  name: string;
  ns: string;
  podNs: string;
  underlayIp: string;
  subnet: string;
  /** The node's VTEP address: the subnet's network address (Flannel's convention). */
  vtepIp: string;
  podIp: string;
  gatewayIp: string;
  /** Dual-stack nodes: the IPv6 subnet (fd00:10:244:<n>::/64), its network address as VTEP, the pod's and the gateway's addresses. */
  subnet6?: string;
  vtepIp6?: string;
  podIp6?: string;
  gatewayIp6?: string;
}

export interface TwoNodes {
  a: OverlayNode;
  b: OverlayNode;
}

/** The pods' MTU: VXLAN's 1450 by default; WireGuard tests pass 1420, as wg-quick uses. */
const OVERLAY_MTU = 1450;

async function node(sb: NetnsSandbox, index: number, podMtu: number, underlay: 4 | 6, dualStack: boolean): Promise<OverlayNode> {
  const ns = await sb.create();
  const podNs = await sb.create();
  const n = index + 1;
  const node: OverlayNode = {
    name: `node-${String.fromCharCode(96 + n)}`,
    ns,
    podNs,
    underlayIp: underlay === 4 ? `10.99.0.${n}` : `fd99::${n}`,
    subnet: `10.244.${n}.0/24`,
    vtepIp: `10.244.${n}.0`,
    podIp: `10.244.${n}.2`,
    gatewayIp: `10.244.${n}.1`,
  };
  await sb.veth(ns, 'pod0', podNs, 'eth0');
  await sb.run(ns, ['ip', 'addr', 'add', `${node.gatewayIp}/24`, 'dev', 'pod0']);
  await sb.run(podNs, ['ip', 'link', 'set', 'eth0', 'mtu', String(podMtu)]);
  await sb.run(podNs, ['ip', 'addr', 'add', `${node.podIp}/24`, 'dev', 'eth0']);
  await sb.run(podNs, ['ip', 'route', 'add', 'default', 'via', node.gatewayIp]);
  await sb.run(ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
  if (dualStack) {
    Object.assign(node, { subnet6: `fd00:10:244:${n}::/64`, vtepIp6: `fd00:10:244:${n}::`, podIp6: `fd00:10:244:${n}::2`, gatewayIp6: `fd00:10:244:${n}::1` });
    // nodad: usable at once, not after duplicate address detection.
    await sb.run(ns, ['ip', 'addr', 'add', `${node.gatewayIp6}/64`, 'dev', 'pod0', 'nodad']);
    await sb.run(podNs, ['ip', 'addr', 'add', `${node.podIp6}/64`, 'dev', 'eth0', 'nodad']);
    await sb.run(podNs, ['ip', '-6', 'route', 'add', 'default', 'via', node.gatewayIp6!]);
    await sb.run(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
  }
  return node;
}

/**
 * Two nodes joined by an underlay veth; `underlay` 6 gives it IPv6 addresses
 * only; `dualStack` gives each pod an IPv6 address too.
 */
export async function twoNodes(sb: NetnsSandbox, podMtu = OVERLAY_MTU, underlay: 4 | 6 = 4, dualStack = false): Promise<TwoNodes> {
  const a = await node(sb, 0, podMtu, underlay, dualStack);
  const b = await node(sb, 1, podMtu, underlay, dualStack);
  await sb.veth(a.ns, 'ul0', b.ns, 'ul0');
  for (const n of [a, b]) {
    // nodad: the address is usable at once, not after duplicate address detection.
    const address = underlay === 4 ? [`${n.underlayIp}/24`] : [`${n.underlayIp}/64`, 'nodad'];
    await sb.run(n.ns, ['ip', 'addr', 'add', ...address, 'dev', 'ul0']);
  }
  return { a, b };
}

/** "address:port", with an IPv6 address in brackets. */
export function endpointOf(n: OverlayNode, port: number): string {
  return endpointText(n.underlayIp, port);
}

/** The compiled CLI; integration tests run the real `weft` binary. */
export function weftMain(): string {
  return compiledWeft('run npm run build (npm test does it first)');
}

export interface PeerEntry {
  name: string;
  endpoint?: string;
  subnet: string;
  vtepMac?: string;
  publicKey?: string;
  presharedKey?: string;
  persistentKeepalive?: number;
  /** The peer finishes TCP checksums left partial (a weft node; a kernel vxlan with remcsumrx). */
  finishesChecksums?: boolean;
}

/**
 * Node `n` as a peer in another node's config: VXLAN on 8472, or, given n's
 * WireGuard private key, WireGuard on 51820 with n's public key.
 */
export function peerOf(n: OverlayNode, wireguardPrivateKey?: string): PeerEntry {
  if (wireguardPrivateKey === undefined) return { name: n.name, endpoint: endpointOf(n, 8472), subnet: n.subnet };
  return { name: n.name, endpoint: endpointOf(n, 51820), subnet: n.subnet, publicKey: publicKeyText(wireguardPrivateKey) };
}

export interface WeftProcess {
  proc: SandboxProcess;
  configPath: string;
  /** The node's control socket (for weft status) and subnet.env, in the test's own directory. */
  controlSocket: string;
  subnetEnv: string;
  /** The fields of the "ready" log line. */
  ready: Record<string, unknown>;
  /** SIGTERM and wait; returns the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Start `weft up` in a node's namespace and wait for its ready line; `wrap`
 * runs it under another command (setpriv, prlimit) that execs it.
 */
export async function startWeft(sb: NetnsSandbox, n: OverlayNode, peers: PeerEntry[], extra: Record<string, unknown> = {}, wrap: readonly string[] = []): Promise<WeftProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-test-'));
  const configPath = join(dir, `${n.name}.json`);
  // /run is shared by every namespace on the machine: keep each node's sockets and files apart.
  const controlSocket = join(dir, 'control.sock');
  const subnetEnv = join(dir, 'subnet.env');
  writeFileSync(configPath, JSON.stringify({ name: n.name, underlay: { address: n.underlayIp }, subnet: n.subnet, peers, controlSocket, subnetEnv, ...extra }, null, 2));
  // Removed at the sandbox's end too, for a test that fails (or is filtered out) before it stops the node.
  sb.onDestroy(() => rmSync(dir, { recursive: true, force: true }));
  const proc = sb.spawn(n.ns, [...wrap, process.execPath, weftMain(), 'up', '--config', configPath]);
  const ready = await waitForLog(proc, 'ready', 10_000);
  return {
    proc,
    configPath,
    controlSocket,
    subnetEnv,
    ready,
    stop: async () => {
      const { code } = await proc.stop();
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Wait for a JSON log line with this msg on stderr; returns its fields. */
export async function waitForLog(proc: SandboxProcess, msg: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    for (const line of proc.stderr().split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === msg) return entry;
    }
    if (exited) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no "${msg}" log line within ${timeoutMs} ms; stderr:\n${proc.stderr()}`);
}

/** Ping `ip` from `ns`: count echo requests, 1 s wait each; returns packets received. */
export async function ping(sb: NetnsSandbox, ns: string, ip: string, count = 3, size = 56): Promise<number> {
  const r = await sb.exec(ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '1', '-s', String(size), ip], { timeoutMs: 5000 + count * 1500 });
  const m = /(\d+) received/u.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

export interface TransferResult {
  sent: { bytes: number; sha256: string };
  received: { bytes: number; sha256: string };
}

/** Move `bytes` over TCP from one pod to another; returns what each end hashed. */
export async function tcpTransfer(sb: NetnsSandbox, fromNs: string, toNs: string, toIp: string, bytes: number, port = 5201): Promise<TransferResult> {
  const sink = sb.spawn(toNs, [process.execPath, join(ROOT, 'test/helpers/tcp-sink.mjs'), String(port)]);
  await sink.waitFor('listening', 5000);
  const out = await sb.run(fromNs, [process.execPath, join(ROOT, 'test/helpers/tcp-source.mjs'), toIp, String(port), String(bytes)], { timeoutMs: 60_000 });
  const done = await Promise.race([sink.exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
  if (done === null) throw new Error(`TCP sink did not finish: ${sink.stderr()}`);
  const received = JSON.parse(sink.stdout().split('\n').find((l) => l.startsWith('{'))!) as TransferResult['received'];
  return { sent: JSON.parse(out.trim()) as TransferResult['sent'], received };
}

/** Ask a running weft for its counters (SIGUSR1 logs a "status" line) and return them. */
export async function weftStatus(w: WeftProcess): Promise<Record<string, unknown>> {
  const count = () => w.proc.stderr().split('\n').filter((l) => l.includes('"msg":"status"')).length;
  const before = count();
  w.proc.child.kill('SIGUSR1');
  for (let i = 0; i < 100 && count() === before; i++) await new Promise((r) => setTimeout(r, 20));
  const lines = w.proc.stderr().split('\n').filter((l) => l.includes('"msg":"status"'));
  if (lines.length === before) throw new Error(`no status line after SIGUSR1; stderr:\n${w.proc.stderr()}`);
  return JSON.parse(lines.at(-1)!) as Record<string, unknown>;
}

/** Send one UDP datagram (hex payload) from inside a namespace; for replay and forgery tests. */
export async function sendUdp(sb: NetnsSandbox, ns: string, to: string, port: number, payload: Uint8Array): Promise<void> {
  const script = `const s=require('dgram').createSocket('udp4');s.send(Buffer.from(process.argv[1],'hex'),${port},'${to}',()=>s.close())`;
  await sb.run(ns, [process.execPath, '-e', script, Buffer.from(payload).toString('hex')]);
}
