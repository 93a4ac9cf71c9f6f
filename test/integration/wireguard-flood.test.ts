/**
 * A flood of forged handshake initiations against a running weft node:
 * 10,000 per second for 4 s, each with a valid MAC1 (anyone who knows the
 * node's public key can make one), from 50 source addresses, while a pod
 * pings across the node. The cookie defence must engage (src/wireguard/
 * handshake-load.ts): cookie replies go out, forged initiations stop costing
 * an X25519 once load is seen, replies stay bounded and smaller than the
 * flood, the node stays under half a core, and the pods' ping keeps its p99
 * under 10 ms once the flood is under way (its first half second, while V8
 * compiles the cookie path, is reported as the onset's worst ping). Before the load signal measured arriving work, no cookie was
 * ever sent, the node burned a full core and ping p99 reached a second.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { ROOT, ping, startWeft, twoNodes, weftStatus } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';

const root = requireRoot();
const id = process.pid % 100000;
const RATE = 10_000;
const DURATION_MS = 4000;
const SOURCES = Array.from({ length: 50 }, (_, i) => `10.99.0.${100 + i}`);

/** User + system CPU seconds of a process so far (clock ticks are 1/100 s on Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe.skipIf(!root)('WireGuard under a handshake flood', () => {
  const sb = new NetnsSandbox();
  const keys = { a: generateKeyText(), b: generateKeyText() };
  let nodes: TwoNodes;
  let wa: WeftProcess;
  let wb: WeftProcess;

  beforeAll(async () => {
    nodes = await twoNodes(sb, 1420);
    const { a, b } = nodes;
    wa = await startWeft(sb, a, [{ name: b.name, endpoint: `${b.underlayIp}:51820`, subnet: b.subnet, publicKey: publicKeyText(keys.b) }], { backend: 'wireguard', tun: { name: `wfl${id}` }, wireguard: { privateKey: keys.a } });
    wb = await startWeft(sb, b, [{ name: a.name, endpoint: `${a.underlayIp}:51820`, subnet: a.subnet, publicKey: publicKeyText(keys.a) }], { backend: 'wireguard', tun: { name: `wfm${id}` }, wireguard: { privateKey: keys.b } });
    // The attacker sits on node a's side of the underlay, with 50 addresses of its own.
    for (const s of SOURCES) await sb.run(a.ns, ['ip', 'addr', 'add', `${s}/24`, 'dev', 'ul0']);
  });

  afterAll(async () => {
    await wa?.stop();
    await wb?.stop();
    await sb.destroy();
  });

  it('answers with cookies, spends no X25519 on forged initiations after load is seen, and keeps pods responsive', async () => {
    expect(await ping(sb, nodes.a.podNs, nodes.b.podIp)).toBe(3);
    const before = await weftStatus(wb);
    const hBefore = before.handshakes as Record<string, number>;
    const pid = wb.proc.child.pid!;
    const cpu0 = cpuSeconds(pid);
    const t0 = Date.now();
    const flood = sb.run(nodes.a.ns, [process.execPath, join(ROOT, 'test/helpers/wg-flood.mjs'), nodes.b.underlayIp, '51820', publicKeyText(keys.b), String(RATE), String(DURATION_MS), ...SOURCES], { timeoutMs: DURATION_MS + 10_000 });
    // 350 pings, 10 ms apart, through the flood: the first 50 (its first half second) are its onset.
    const pinged = await sb.exec(nodes.a.podNs, ['ping', '-c', '350', '-i', '0.01', '-W', '1', nodes.b.podIp], { timeoutMs: 15_000 });
    const report = JSON.parse((await flood).trim()) as { sent: number; sentBytes: number; replies: number; replyBytes: number; seconds: number };
    const cores = (cpuSeconds(pid) - cpu0) / ((Date.now() - t0) / 1000);
    const inOrder = [...pinged.stdout.matchAll(/time=([\d.]+) ms/gu)].map((m) => Number(m[1]));
    const onsetMax = Math.max(...inOrder.slice(0, 50));
    const rtts = inOrder.slice(50).sort((x, y) => x - y);
    const after = await weftStatus(wb);
    const h = after.handshakes as Record<string, number>;
    const drops = after.drops as Record<string, number>;
    const p99 = percentile(rtts, 99);
    console.log(`flood: ${JSON.stringify(report)}; node cores ${cores.toFixed(3)}; ping ${inOrder.length}/350, onset max ${onsetMax} ms, then p50 ${percentile(rtts, 50)} ms, p99 ${p99} ms; handshakes ${JSON.stringify(h)}; drops under_load ${drops.under_load}, rate_limited ${drops.rate_limited}`);

    expect(report.sent).toBeGreaterThanOrEqual(RATE * (DURATION_MS / 1000) * 0.85);
    // Cookies engaged, and the attacker got back fewer bytes than it sent.
    expect(h.cookieRepliesSent! - hBefore.cookieRepliesSent!).toBeGreaterThan(0);
    expect(report.replies).toBeGreaterThan(0);
    expect(report.replyBytes).toBeLessThan(report.sentBytes / 2);
    // Only the initiations that arrived before load was detected reached the DH (64 per tick at most).
    expect(h.initiationsProcessed! - hBefore.initiationsProcessed!).toBeLessThanOrEqual(2 * 64);
    expect(drops.under_load! + drops.rate_limited!).toBeGreaterThan(report.sent * 0.8);
    // Bounded cost, and the pods barely notice.
    expect(cores).toBeLessThan(0.5);
    expect(inOrder.length).toBeGreaterThanOrEqual(345);
    expect(p99).toBeLessThan(10);
  });
});
