/**
 * Accountable claims (issue 16, claim.ts and claim-trust.ts), on 50
 * simulated nodes. A member holding the cluster key used to be able to
 * claim any node suspect or dead under any name; the victim refuted, but
 * the claim spread first. Now a claim carries its claimer's signature, and
 * each node ignores a claimer whose claims keep being refuted.
 */
import { describe, expect, it } from 'vitest';
import { nameHash } from '../../src/gossip/anti-entropy.ts';
import { signClaim } from '../../src/gossip/claim.ts';
import { FactKind, MsgType, encodeFact, encodeMessage } from '../../src/gossip/codec.ts';
import { MemberState } from '../../src/gossip/member.ts';
import { generateSigningKey } from '../../src/gossip/record.ts';
import { GOSSIP_PORT, SimCluster } from './sim-cluster.ts';
import type { SimNode } from './sim-cluster.ts';

const N = 50;

/** Send `facts` to `to` in a gossip datagram from `from`'s address, as a member holding the cluster key can. */
function inject(c: SimCluster, from: SimNode, to: SimNode, facts: Uint8Array[]): void {
  const bytes = encodeMessage({ type: MsgType.Gossip, from: from.name, facts }, c.keyring, { sentAt: to.clock.wall(), to: nameHash(to.name) });
  c.net.inject(from.address, GOSSIP_PORT, to.address, GOSSIP_PORT, bytes);
}

const drops = (nodes: SimNode[], reason: string): number => nodes.reduce((s, n) => s + (n.m.drops as { get(r: string): number }).get(reason), 0);

describe('accountable suspect and dead claims', () => {
  it("a lying member's claims stop being believed and stop spreading; honest detection goes on", () => {
    const c = new SimCluster({ seed: 71, keepEvents: true });
    const nodes = c.preloaded(N);
    c.run(2000);
    const liar = nodes[0]!;
    const others = nodes.slice(1);
    // Each lie: a correctly signed claim, by the liar under its own name, that a live member is
    // suspect (or dead), told to three members; then how many nodes hold the victim suspect or dead.
    const believedBy: number[] = [];
    for (let i = 0; i < 24; i++) {
      const victim = others[(i * 7) % others.length]!;
      const kind = i % 3 === 2 ? FactKind.Dead : FactKind.Suspect;
      const inc = victim.m.incarnation;
      const lie = signClaim(kind, victim.name, inc, liar.name, liar.secretKey);
      for (let k = 1; k <= 3; k++) inject(c, liar, others[(i * 7 + k * 11) % others.length]!, [lie]);
      // Who believed this very lie: holds the victim suspect on the liar's word, or dead by this claim.
      const believers = new Set<string>();
      for (let t = 0; t < 20; t++) {
        c.run(50);
        for (const n of others) {
          const held = n.m.get(victim.name);
          if (n === victim || held === undefined || held.incarnation !== inc) continue;
          const onLiarsWord = held.suspicion !== null && [...held.suspicion.accusers()].includes(liar.name);
          const byThisClaim = held.deadClaim !== null && Buffer.from(held.deadClaim).equals(Buffer.from(lie));
          if (onLiarsWord || byThisClaim) believers.add(n.name);
        }
      }
      believedBy.push(believers.size);
      c.run(2000); // the victim refutes; the refutation spreads and counts against the liar
    }
    console.log(`nodes that believed each lie: ${believedBy.join(' ')}`);
    // The first lies spread to most nodes (and their victims refuted them). After that a lie reaches
    // at most the few nodes that have not yet seen the liar refuted often enough, and in the end none.
    expect(believedBy.slice(0, 3).every((x) => x > N / 2)).toBe(true);
    expect(Math.max(...believedBy.slice(8))).toBeLessThanOrEqual(N / 5);
    expect(believedBy.slice(-3)).toEqual([0, 0, 0]);
    expect(drops(others, 'distrusted-claimer')).toBeGreaterThan(0);
    // Most members now distrust the liar (the rest never saw it refuted often enough), and none distrusts an honest member.
    const now = c.now;
    const trustOf = (n: SimNode) => (n.m as unknown as { states: { trust: { distrusted(x: string, t: number): boolean } } }).states.trust;
    expect(others.filter((n) => trustOf(n).distrusted(liar.name, now)).length).toBeGreaterThan(others.length * 0.8);
    for (const n of others) expect(others.filter((o) => trustOf(n).distrusted(o.name, now)).map((o) => o.name)).toEqual([]);
    // The deaths it claimed were refuted too: no honest member holds a live node dead.
    c.run(3000);
    for (const n of others) for (const o of nodes) expect([n.name, o.name, n.m.get(o.name)?.isLive]).toEqual([n.name, o.name, true]);
    // Honest claims still work: a real death is found and removed everywhere.
    const dead = others[20]!;
    c.kill(dead);
    expect(c.runUntil(() => c.allSee(dead.name, false), 10_000)).toBeGreaterThan(0);
  });

  it('forged, unsigned and unknown claimers\' claims are dropped, counted by reason, and believed nowhere', () => {
    const c = new SimCluster({ seed: 72 });
    const nodes = c.preloaded(N);
    c.run(2000);
    const [attacker, honest, victim, target] = [nodes[1]!, nodes[2]!, nodes[3]!, nodes[4]!];
    const stranger = generateSigningKey();
    const inc = victim.m.incarnation;
    // Claims in an honest member's name, signed with another key; the same with a byte changed after signing.
    const forged = signClaim(FactKind.Dead, victim.name, inc, honest.name, attacker.secretKey);
    const tampered = signClaim(FactKind.Suspect, victim.name, inc, honest.name, honest.secretKey);
    tampered[tampered.length - 1]! ^= 1;
    // The unsigned form weft sent before; and a claimer no member is.
    const unsigned = encodeFact({ kind: FactKind.UnsignedDead, name: victim.name, incarnation: inc, from: honest.name });
    const unknown = signClaim(FactKind.Dead, victim.name, inc, 'node-nobody', stranger.secretKey);
    inject(c, attacker, target, [forged, tampered, unsigned, unknown]);
    c.run(1000);
    expect({
      'bad-claim-signature': target.m.drops.get('bad-claim-signature'),
      'unsigned-claim': target.m.drops.get('unsigned-claim'),
      'unknown-claimer': target.m.drops.get('unknown-claimer'),
    }).toEqual({ 'bad-claim-signature': 2, 'unsigned-claim': 1, 'unknown-claimer': 1 });
    for (const n of nodes) expect(n.m.get(victim.name)?.state).toBe(MemberState.Alive);
    expect(victim.m.stats.refutations).toBe(0);

    // A burst of correctly signed claims from one member is held to its rate: 32 at once, then 2 a second.
    const burst = nodes.slice(10, 50).map((v) => signClaim(FactKind.Suspect, v.name, v.m.incarnation, attacker.name, attacker.secretKey));
    const other = nodes[5]!;
    for (let i = 0; i < burst.length; i += 10) inject(c, attacker, other, burst.slice(i, i + 10));
    c.run(5);
    expect(other.m.drops.get('claim-rate-limited')).toBe(burst.length - 32);
  });
});
