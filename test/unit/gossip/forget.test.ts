/**
 * Forgetting a dead member (forget.ts, `weft forget`): the fact's layout
 * and signature, what one node's forget does to every node of a simulated
 * cluster (the real membership code on the virtual clock), and what it
 * refuses to do.
 */
import { describe, expect, it } from 'vitest';
import { FactKind } from '../../../src/gossip/codec.ts';
import { ForgetLedger, decodeForget, encodeForget, verifyForget } from '../../../src/gossip/forget.ts';
import { generateSigningKey, signingPublicKey } from '../../../src/gossip/record.ts';
import { MemberState } from '../../../src/gossip/membership.ts';
import { SimCluster } from '../../sim/sim-cluster.ts';
import type { SimNode } from '../../sim/sim-cluster.ts';
import { seededRandom } from '../../helpers/random.ts';

const issuer = generateSigningKey();
const forgotten = generateSigningKey().publicKey;

function fact(over: Partial<{ name: string; incarnation: number; issuedAt: number; from: string }> = {}): Uint8Array {
  return encodeForget({ name: 'node-b', key: forgotten, incarnation: 7, issuedAt: 1_700_000_000_123, from: 'node-a', ...over }, issuer.secretKey);
}

describe('forget fact: layout and signature', () => {
  it('round-trips every field, byte for byte, and verifies under the issuer key only', () => {
    const b = fact();
    expect(b[0]).toBe(FactKind.Forget);
    // kind + issued-at + incarnation + key + name + from + signature
    expect(b.length).toBe(1 + 6 + 4 + 32 + 1 + 6 + 1 + 6 + 64);
    const f = decodeForget(b)!;
    expect({ name: f.name, from: f.from, incarnation: f.incarnation, issuedAt: f.issuedAt }).toEqual({ name: 'node-b', from: 'node-a', incarnation: 7, issuedAt: 1_700_000_000_123 });
    expect(Buffer.from(f.key).equals(Buffer.from(forgotten))).toBe(true);
    expect(verifyForget(f, issuer.publicKey)).toBe(true);
    expect(verifyForget(f, signingPublicKey(generateSigningKey().secretKey))).toBe(false);
    // Any flipped byte breaks the signature or the layout.
    for (let i = 0; i < b.length; i++) {
      const bad = b.slice();
      bad[i]! ^= 0x10;
      const g = decodeForget(bad);
      expect(g === null || !verifyForget(g, issuer.publicKey)).toBe(true);
    }
  });

  it('never throws on hostile bytes: truncations and random input are null or unverifiable', () => {
    const b = fact();
    for (let n = 0; n < b.length; n++) expect(decodeForget(b.subarray(0, n))).toBeNull();
    const random = seededRandom(5);
    for (let i = 0; i < 2000; i++) {
      const junk = Uint8Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256));
      if (i % 2 === 0 && junk.length > 0) junk[0] = FactKind.Forget;
      const g = decodeForget(junk);
      if (g !== null) expect(verifyForget(g, issuer.publicKey)).toBe(false);
    }
  });

  it('the ledger blocks that key at that incarnation or below, for its lifetime, and holds at most its size', () => {
    const l = new ForgetLedger(2);
    expect(l.remember(decodeForget(fact())!, fact(), 1000, 0)).toBe(true);
    expect(l.blocks('node-b', forgotten, 7, 10)).toBe(true);
    expect(l.blocks('node-b', forgotten, 8, 10)).toBe(false);
    expect(l.blocks('node-b', generateSigningKey().publicKey, 7, 10)).toBe(false);
    expect(l.remember(decodeForget(fact({ name: 'node-c' }))!, fact({ name: 'node-c' }), 1000, 0)).toBe(true);
    expect(l.remember(decodeForget(fact({ name: 'node-d' }))!, fact({ name: 'node-d' }), 1000, 0)).toBe(false);
    expect(l.blocks('node-b', forgotten, 7, 1000)).toBe(false);
    expect(l.remember(decodeForget(fact({ name: 'node-d' }))!, fact({ name: 'node-d' }), 3000, 1000)).toBe(true);
  });
});

/** A cluster of n where node `victim` died and was declared dead everywhere. */
function deadVictim(n: number, seed: number): { c: SimCluster; nodes: SimNode[]; victim: SimNode } {
  const c = new SimCluster({ seed });
  const nodes = c.preloaded(n);
  c.run(2000);
  const victim = nodes[3]!;
  c.kill(victim);
  expect(c.runUntil(() => c.allSee(victim.name, false), 10_000)).toBeGreaterThan(0);
  return { c, nodes, victim };
}

/** Whether x holds `fresh`'s record (its new key) for the name, live. */
const holdsNew = (x: SimNode, fresh: SimNode): boolean => {
  const m = x.m.get(fresh.name);
  return m?.isLive === true && Buffer.from(m.record.signingKey).equals(Buffer.from(fresh.m.record.signingKey));
};

const live = (c: SimCluster, name: string): SimNode[] => c.up().filter((x) => x.name !== name);

describe('forget in a simulated cluster', () => {
  it('without it, a node reinstalled with a new key is refused everywhere (key-mismatch)', () => {
    const { c, nodes, victim } = deadVictim(12, 31);
    const fresh = c.add(victim.name);
    c.join(fresh, [nodes[0]!]);
    c.run(20_000);
    for (const x of live(c, victim.name)) {
      expect(x.m.get(victim.name)?.state).toBe(MemberState.Dead);
      expect(Buffer.from(x.m.get(victim.name)!.record.signingKey).equals(Buffer.from(fresh.m.record.signingKey))).toBe(false);
    }
    expect(nodes[0]!.m.drops.get('key-mismatch')).toBeGreaterThan(0);
  });

  it('one node forgets: every node drops the tombstone and takes the new key; the old record stays refused', () => {
    const { c, nodes, victim } = deadVictim(12, 32);
    const oldRecord = nodes[0]!.m.get(victim.name)!.bytes;
    expect(nodes[1]!.m.forget(victim.name)).toBe('forgotten');
    expect(nodes[1]!.m.get(victim.name)).toBeUndefined();
    const fresh = c.add(victim.name);
    c.join(fresh, [nodes[0]!]);
    const others = live(c, victim.name);
    const took = c.runUntil(() => others.every((x) => holdsNew(x, fresh)), 10_000);
    expect(took).toBeGreaterThanOrEqual(0);
    expect(c.runUntil(() => fresh.m.liveCount === 12, 10_000)).toBeGreaterThanOrEqual(0);
    // The forgotten record offered again (a peer's stale sync): refused, counted.
    const before = nodes[5]!.m.drops.get('forgotten');
    nodes[5]!.m.restore([oldRecord]);
    expect(nodes[5]!.m.drops.get('forgotten')).toBe(before + 1);
    expect(nodes.reduce((s, x) => s + x.m.drops.get('forget-refused'), 0)).toBe(0);
  });

  it('a node that missed the forget (down while it spread) learns it by anti-entropy, ahead of the new record', () => {
    const { c, nodes, victim } = deadVictim(12, 33);
    const late = nodes[7]!;
    c.net.setGroup(late.address, 7946, 1);
    expect(nodes[1]!.m.forget(victim.name)).toBe('forgotten');
    const fresh = c.add(victim.name);
    c.join(fresh, [nodes[0]!]);
    c.run(8000);
    expect(late.m.get(victim.name)?.state).toBe(MemberState.Dead);
    c.net.setGroup(late.address, 7946, 0);
    expect(c.runUntil(() => holdsNew(late, fresh), 20_000)).toBeGreaterThanOrEqual(0);
  });

  it('a node that left gracefully is forgotten as a dead one is, everywhere', () => {
    const c = new SimCluster({ seed: 36 });
    const nodes = c.preloaded(8);
    c.run(2000);
    const gone = nodes[4]!;
    gone.m.leave();
    c.run(500);
    c.kill(gone);
    const others = live(c, gone.name);
    expect(c.runUntil(() => others.every((x) => x.m.get(gone.name)?.state === MemberState.Left), 5_000)).toBeGreaterThanOrEqual(0);
    expect(nodes[0]!.m.forget(gone.name)).toBe('forgotten');
    expect(c.runUntil(() => others.every((x) => x.m.get(gone.name) === undefined), 5_000)).toBeGreaterThanOrEqual(0);
    const fresh = c.add(gone.name);
    c.join(fresh, [nodes[1]!]);
    expect(c.runUntil(() => others.every((x) => holdsNew(x, fresh)), 10_000)).toBeGreaterThanOrEqual(0);
  });

  it('refuses an unknown name, itself, a live member and a suspected one, and changes nothing', () => {
    const c = new SimCluster({ seed: 34 });
    const nodes = c.preloaded(6);
    c.run(2000);
    const a = nodes[0]!;
    expect(a.m.forget('nobody')).toBe('unknown');
    expect(a.m.forget(a.name)).toBe('self');
    expect(a.m.forget(nodes[2]!.name)).toBe('alive');
    c.kill(nodes[2]!);
    expect(c.runUntil(() => a.m.get(nodes[2]!.name)?.state === MemberState.Suspect, 10_000)).toBeGreaterThanOrEqual(0);
    expect(a.m.forget(nodes[2]!.name)).toBe('suspect');
    expect(a.m.get(nodes[2]!.name)?.isLive).toBe(true);
  });

  it('a forget that arrives where the member is live is refused there; a forged one is dropped; an old key that restarts comes back', () => {
    const { c, nodes, victim } = deadVictim(8, 35);
    const stranger = generateSigningKey();
    const a = nodes[0]!;
    const r = a.m.get(victim.name)!.record;
    const wall = a.clock.wall();
    // Signed by a key no member holds, in the name of member node-1: bad signature everywhere.
    const forged = encodeForget({ name: victim.name, key: r.signingKey, incarnation: r.incarnation, issuedAt: wall, from: nodes[1]!.name }, stranger.secretKey);
    const sent = (x: SimNode, f: Uint8Array): void => (x.m as unknown as { states: { facts(l: Uint8Array[], s: boolean): void } }).states.facts([f], false);
    sent(a, forged);
    expect(a.m.drops.get('bad-signature')).toBe(1);
    expect(a.m.get(victim.name)?.state).toBe(MemberState.Dead);
    // Dated beyond the tombstone time: stale.
    sent(a, encodeForget({ name: victim.name, key: r.signingKey, incarnation: r.incarnation, issuedAt: wall - 11 * 60_000, from: nodes[1]!.name }, nodes[1]!.secretKey));
    expect(a.m.drops.get('stale')).toBeGreaterThanOrEqual(1);
    expect(a.m.get(victim.name)?.state).toBe(MemberState.Dead);
    // About a live member (node-2): refused, node-2 stays.
    const live2 = a.m.get(nodes[2]!.name)!.record;
    sent(a, encodeForget({ name: live2.name, key: live2.signingKey, incarnation: live2.incarnation, issuedAt: wall, from: nodes[1]!.name }, nodes[1]!.secretKey));
    expect(a.m.drops.get('forget-refused')).toBe(1);
    expect(a.m.get(live2.name)?.isLive).toBe(true);
    // A real forget, then the old node (old key) restarts: it speaks above the forgotten incarnation and is taken back.
    expect(nodes[1]!.m.forget(victim.name)).toBe('forgotten');
    c.run(3000);
    expect(a.m.get(victim.name)).toBeUndefined();
    const back = c.restart(victim);
    // weft starts at seconds since the epoch, above its previous life; the simulator starts at 0.
    back.m.updateSelf({});
    c.join(back, [nodes[1]!]);
    expect(c.runUntil(() => c.allSee(victim.name, true), 15_000)).toBeGreaterThanOrEqual(0);
  });
});
