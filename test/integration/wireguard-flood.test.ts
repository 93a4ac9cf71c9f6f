/**
 * A flood of forged handshake initiations against a running weft node:
 * 10,000 per second for 4 s, each with a valid MAC1 (anyone who knows the
 * node's public key can make one), from 50 source addresses, while a pod
 * pings across the node. The cookie defence must engage (src/wireguard/
 * handshake-load.ts): cookie replies go out, forged initiations stop costing
 * an X25519 once load is seen, replies stay bounded and smaller than the
 * flood, the node stays under half a core, and the pods' ping loses nothing
 * (its latency is printed here and measured by bench:flood). Before the load
 * signal measured arriving work, no cookie was ever sent, the node burned a
 * full core and ping p99 reached a second.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { peerOf, ping, startWeft, twoNodes, weftStatus } from '../helpers/cluster.ts';
import { floodWithPing } from '../helpers/flood.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';

const root = requireRoot();
const id = process.pid % 100000;
const RATE = 10_000;
const DURATION_MS = 4000;
const SOURCES = Array.from({ length: 50 }, (_, i) => `10.99.0.${100 + i}`);

describe.skipIf(!root)('WireGuard under a handshake flood', () => {
  const sb = new NetnsSandbox();
  const keys = { a: generateKeyText(), b: generateKeyText() };
  let nodes: TwoNodes;
  let wa: WeftProcess;
  let wb: WeftProcess;

  beforeAll(async () => {
    nodes = await twoNodes(sb, 1420);
    const { a, b } = nodes;
    wa = await startWeft(sb, a, [peerOf(b, keys.b)], { backend: 'wireguard', tun: { name: `wfl${id}` }, wireguard: { privateKey: keys.a } });
    wb = await startWeft(sb, b, [peerOf(a, keys.a)], { backend: 'wireguard', tun: { name: `wfm${id}` }, wireguard: { privateKey: keys.b } });
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
    const r = await floodWithPing(sb, {
      attackerNs: nodes.a.ns,
      target: nodes.b.underlayIp,
      port: 51820,
      publicKey: publicKeyText(keys.b),
      rate: RATE,
      durationMs: DURATION_MS,
      sources: SOURCES,
      pingNs: nodes.a.podNs,
      pingIp: nodes.b.podIp,
      pid: wb.proc.child.pid!,
    });
    const after = await weftStatus(wb);
    const h = after.handshakes as Record<string, number>;
    const drops = after.drops as Record<string, number>;
    console.log(`flood: ${JSON.stringify(r)}; handshakes ${JSON.stringify(h)}; drops under_load ${drops.under_load}, rate_limited ${drops.rate_limited}`);

    expect(r.sent).toBeGreaterThanOrEqual(RATE * (DURATION_MS / 1000) * 0.85);
    // Cookies engaged, and the attacker got back fewer bytes than it sent.
    expect(h.cookieRepliesSent! - hBefore.cookieRepliesSent!).toBeGreaterThan(0);
    expect(r.replies).toBeGreaterThan(0);
    expect(r.replyBytes).toBeLessThan(r.sentBytes / 2);
    // Only the initiations that arrived before load was detected reached the DH (64 per tick at most).
    expect(h.initiationsProcessed! - hBefore.initiationsProcessed!).toBeLessThanOrEqual(2 * 64);
    expect(drops.under_load! + drops.rate_limited!).toBeGreaterThan(r.sent * 0.8);
    // Bounded cost (measured 0.19 to 0.23 cores: the bound has room for a busy machine), and
    // no ping lost. The ping's latency is a speed figure, so `npm run bench:flood` reports it
    // (p99 5 to 7 ms here) rather than this test asserting a time.
    expect(r.cores).toBeLessThan(0.5);
    expect(r.pings).toBeGreaterThanOrEqual(345);
  });
});
