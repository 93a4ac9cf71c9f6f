/**
 * Amplification toward a spoofed source (issue 11, defect 4): an attacker
 * on the path captures sealed gossip datagrams and replays them with the
 * source address of a victim, or (holding the cluster key) sends fresh small
 * requests from an address that is no member's. Whatever the cluster sends
 * toward that address is what the attack buys per byte it sends.
 *
 * Bounds asserted here, bytes out toward the spoofed address per byte in:
 *   replays (same recipient, other recipients, and much later): <= 1,
 *     and in fact nothing at all, each dropped and counted by reason;
 *   fresh valid requests from an unverified address: <= 3 (REPLY_RATIO).
 *
 * Before the fix, replaying one captured small sync want made its recipient
 * send about 28 times the bytes back; see the report printed by each test.
 */
import { describe, expect, it } from 'vitest';
import { nameHash } from '../../src/gossip/anti-entropy.ts';
import { MsgType, SYNC_BUCKETS, decodeMessage, encodeMessage } from '../../src/gossip/codec.ts';
import type { Message } from '../../src/gossip/codec.ts';
import { GOSSIP_PORT, SimCluster } from './sim-cluster.ts';
import type { SimNode } from './sim-cluster.ts';

const N = 50;
/** A node that starts without 20 records: its first sync pulls them with one small want. */
const LATE = 7;
const MISSING = 20;
const ATTACKER = '198.51.100.7';

/** Sum of the named drop counters over some nodes (an unknown name counts 0). */
function drops(nodes: SimNode[], reason: string): number {
  return nodes.reduce((s, n) => s + (n.m.drops as { get(r: string): number }).get(reason), 0);
}

function lateCluster(seed: number): { c: SimCluster; nodes: SimNode[] } {
  const c = new SimCluster({ seed });
  const nodes = c.preloaded(N, (i, j) => i !== LATE || j < N - MISSING);
  return { c, nodes };
}

describe('gossip amplification toward a spoofed source', () => {
  it('a captured sync want replayed from a spoofed source gets nothing back, now or later, here or elsewhere', () => {
    const { c, nodes } = lateCluster(41);
    const late = nodes[LATE]!;
    let captured: { bytes: Uint8Array; to: string } | null = null;
    c.net.tap = (fromAddr, _fromPort, to, bytes) => {
      if (captured !== null || fromAddr !== late.address) return;
      const v = decodeMessage(bytes, c.keyring);
      if (v.ok && v.msg.type === MsgType.SyncWant && v.msg.hashes.length > 0) captured = { bytes: bytes.slice(), to };
    };
    expect(c.runUntil(() => captured !== null, 5000)).toBeGreaterThanOrEqual(0);
    c.net.tap = null;
    c.run(500); // the honest want is delivered and served
    const cap = captured! as { bytes: Uint8Array; to: string };
    const recipient = nodes.find((n) => `${n.address}:${GOSSIP_PORT}` === cap.to)!;
    const others = nodes.filter((n) => n !== recipient && n !== late).slice(0, 10);

    let sentIn = 0;
    const replay = (to: SimNode): void => {
      c.net.inject(ATTACKER, GOSSIP_PORT, to.address, GOSSIP_PORT, cap.bytes);
      sentIn += cap.bytes.length;
    };
    // Soon after capture (inside any timestamp window): 50 times to its recipient, once to 10 others.
    for (let i = 0; i < 50; i++) {
      replay(recipient);
      c.run(100);
    }
    for (const o of others) replay(o);
    c.run(1000);
    const soon = c.net.sentToward(ATTACKER, GOSSIP_PORT).bytes;
    // Much later: the sender's timestamp is out of every window.
    c.run(60_000);
    for (let i = 0; i < 10; i++) replay(recipient);
    c.run(1000);
    const out = c.net.sentToward(ATTACKER, GOSSIP_PORT).bytes;
    const ratio = out / sentIn;
    console.log(
      `replay: want of ${cap.bytes.length} bytes replayed ${sentIn / cap.bytes.length} times (${sentIn} bytes in); ` +
        `${out} bytes out toward the spoofed source (${soon} in the first 6 s): ${ratio.toFixed(2)} out per byte in`,
    );
    expect(ratio).toBeLessThanOrEqual(1);
    expect(out).toBe(0);
    // Each replay is dropped and counted by its reason.
    expect(drops([recipient], 'replay')).toBeGreaterThanOrEqual(50);
    expect(drops(others, 'wrong-recipient')).toBe(others.length);
    expect(drops([recipient], 'too-old')).toBe(10);
    // Honest traffic meanwhile lost nothing to the new checks.
    for (const r of ['too-new', 'rate-limited', 'unverified']) expect(drops(nodes, r)).toBe(0);
    expect(late.m.liveCount).toBe(N);
  });

  it('fresh valid requests from an unverified address get at most 3 bytes back per byte in', () => {
    const { c, nodes } = lateCluster(42);
    c.run(2000);
    const hashes = nodes.slice(0, MISSING).map((n) => nameHash(n.name));
    const targets = nodes.slice(0, 5);
    let sentIn = 0;
    let seq = 1000;
    const send = (t: SimNode, msg: Message): void => {
      // An insider's datagram: fresh nonce, current timestamp, bound to its recipient.
      const bytes = encodeMessage(msg, c.keyring, { sentAt: t.clock.wall(), to: nameHash(t.name) });
      c.net.inject(ATTACKER, GOSSIP_PORT, t.address, GOSSIP_PORT, bytes);
      sentIn += bytes.length;
    };
    const from = 'node-attacker';
    for (let round = 0; round < 10; round++) {
      for (const t of targets) {
        const other = nodes.find((n) => n !== t)!;
        send(t, { type: MsgType.SyncWant, from, hashes });
        // An empty map, like a joiner's: every entry differs.
        send(t, { type: MsgType.SyncDigest, from, reply: false, count: 0, buckets: new Uint32Array(SYNC_BUCKETS) });
        send(t, { type: MsgType.SyncEntries, from, entries: hashes.map((hash) => ({ hash, incarnation: 99, stateClass: 0 })) });
        send(t, { type: MsgType.Ping, from, seq: seq++, target: t.name, facts: [] });
        send(t, { type: MsgType.PingReq, from, seq: seq++, target: other.name, facts: [] });
      }
      c.run(500);
    }
    // A burst: 300 pings in a tenth of a second to one node.
    for (let i = 0; i < 300; i++) send(targets[0]!, { type: MsgType.Ping, from, seq: seq++, target: targets[0]!.name, facts: [] });
    c.run(2000);
    const out = c.net.sentToward(ATTACKER, GOSSIP_PORT).bytes;
    const ratio = out / sentIn;
    console.log(`fresh requests from an unverified address: ${sentIn} bytes in, ${out} bytes out: ${ratio.toFixed(2)} out per byte in`);
    expect(ratio).toBeLessThanOrEqual(3);
    expect(drops(targets, 'duplicate')).toBeGreaterThan(0);
    expect(drops(targets, 'unverified')).toBeGreaterThan(0);
    expect(drops(targets, 'rate-limited')).toBeGreaterThan(0);
  });
});
