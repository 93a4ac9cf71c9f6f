import { describe, expect, it } from 'vitest';
import { AntiEntropy, bucketOf, digestOf, entryHash, nameHash, newer } from '../../../src/gossip/anti-entropy.ts';
import type { SyncHost, SyncMember } from '../../../src/gossip/anti-entropy.ts';
import { MAX_DATAGRAM, MsgType, SYNC_BUCKETS, encodeMessage } from '../../../src/gossip/codec.ts';
import type { Message } from '../../../src/gossip/codec.ts';
import { Keyring } from '../../../src/gossip/keyring.ts';

const ring = new Keyring(new Uint8Array(32).fill(3));

function host(name: string, members: SyncMember[], clock = { t: 0 }) {
  const out: Message[] = [];
  const byHash = new Map(members.map((m) => [m.hash, m]));
  const h: SyncHost = {
    selfName: name,
    syncMembers: () => members,
    digest: () => digestOf(members),
    byHash: (x) => byHash.get(x),
    factsFor: (x) => (byHash.has(x) ? [new Uint8Array(180).fill(x % 251)] : []),
    send: (_a, _p, msg) => {
      expect(encodeMessage(msg, ring).length).toBeLessThanOrEqual(MAX_DATAGRAM);
      out.push(msg);
    },
    now: () => clock.t,
  };
  return { out, ae: new AntiEntropy(h), clock };
}

const member = (i: number, incarnation = 1, stateClass = 0): SyncMember => ({ name: `n${i}`, hash: nameHash(`n${i}`), incarnation, stateClass });

describe('anti-entropy', () => {
  it('orders versions: incarnation first, then dead over alive, left over dead', () => {
    expect(newer(2, 0, 1, 2)).toBe(true);
    expect(newer(1, 1, 1, 0)).toBe(true);
    expect(newer(1, 2, 1, 1)).toBe(true);
    expect(newer(1, 0, 1, 0)).toBe(false);
    expect(newer(1, 0, 2, 0)).toBe(false);
  });

  it('digests are order independent and change with any entry', () => {
    const ms = Array.from({ length: 300 }, (_, i) => member(i));
    const a = digestOf(ms);
    const b = digestOf([...ms].reverse());
    expect(a.buckets).toEqual(b.buckets);
    expect(a.count).toBe(300);
    const changed = digestOf(ms.map((m, i) => (i === 7 ? { ...m, incarnation: 2 } : m)));
    const diff = [...Array(SYNC_BUCKETS).keys()].filter((i) => changed.buckets[i] !== a.buckets[i]);
    expect(diff).toEqual([bucketOf(ms[7]!.hash)]);
    expect(entryHash(5, 1, 0)).not.toBe(entryHash(5, 1, 1));
    expect(nameHash('n1')).toBeLessThan(2 ** 48);
  });

  it('pulls exactly what differs, both ways, in datagram-sized chunks', () => {
    const shared = Array.from({ length: 400 }, (_, i) => member(i));
    const aOnly = Array.from({ length: 150 }, (_, i) => member(1000 + i));
    const A = host('a', [...shared, ...aOnly, { ...member(5000), incarnation: 3 }]);
    const B = host('b', [...shared, { ...member(5000), incarnation: 2 }, member(6000)]);
    A.ae.start('b', 1, 'b');
    const digest = A.out.shift()!;
    expect(digest.type).toBe(MsgType.SyncDigest);
    B.ae.onDigest(digest as Extract<Message, { type: 6 }>, 'a', 1);
    const entries = B.out.filter((m) => m.type === MsgType.SyncEntries);
    const replyDigest = B.out.find((m) => m.type === MsgType.SyncDigest)!;
    expect(replyDigest).toMatchObject({ reply: true });
    // A wants what B has newer or A lacks: n6000 only (n5000 is older at B).
    for (const e of entries) A.ae.onEntries(e as Extract<Message, { type: 7 }>, 'b', 1);
    const wantsOfA = A.out.filter((m) => m.type === MsgType.SyncWant).flatMap((m) => (m as { hashes: number[] }).hashes);
    expect(wantsOfA).toEqual([member(6000).hash]);
    // The reply digest lets B pull the 151 records A has and B lacks or has older; no further digest.
    A.out.length = 0;
    A.ae.onDigest(replyDigest as Extract<Message, { type: 6 }>, 'b', 1);
    expect(A.out.some((m) => m.type === MsgType.SyncDigest)).toBe(false);
    B.out.length = 0;
    for (const e of A.out) B.ae.onEntries(e as Extract<Message, { type: 7 }>, 'a', 1);
    const wantsOfB = B.out.flatMap((m) => (m as { hashes: number[] }).hashes);
    expect(new Set(wantsOfB)).toEqual(new Set([...aOnly.map((m) => m.hash), member(5000).hash]));
    // Serving B's pull sends every wanted record, chunked.
    A.out.length = 0;
    for (const w of B.out) A.ae.onWant(w as Extract<Message, { type: 8 }>, 'b', 1);
    const facts = A.out.flatMap((m) => (m as { facts: Uint8Array[] }).facts);
    expect(facts).toHaveLength(151);
    expect(A.out.length).toBeGreaterThan(20);
  });

  it('nothing moves when the maps agree', () => {
    const ms = Array.from({ length: 50 }, (_, i) => member(i));
    const A = host('a', ms);
    const B = host('b', ms);
    A.ae.start('b', 1, 'b');
    B.ae.onDigest(A.out[0] as Extract<Message, { type: 6 }>, 'a', 1);
    expect(B.out).toEqual([]);
  });

  it('caps concurrent full syncs per window', () => {
    const ms = Array.from({ length: 100 }, (_, i) => member(i));
    const A = host('a', ms);
    const want = { type: MsgType.SyncWant, from: 'x', hashes: ms.map((m) => m.hash) } as const;
    expect(A.ae.onWant(want, 'x', 1)).toBe(true);
    expect(A.ae.onWant(want, 'y', 1)).toBe(true);
    expect(A.ae.onWant(want, 'z', 1)).toBe(false);
    // Small pulls are never refused.
    expect(A.ae.onWant({ ...want, hashes: want.hashes.slice(0, 3) }, 'z', 1)).toBe(true);
    A.clock.t += 1000;
    expect(A.ae.onWant(want, 'z', 1)).toBe(true);
    expect(A.ae.stats.refused).toBe(1);
  });

  it('between peers that count alike, sends a bounded share of the differing entries, a different share each time', () => {
    const n = 2000;
    const ours = Array.from({ length: n }, (_, i) => member(i));
    // Every fifth member is newer at the peer: churn, spread over all 64 buckets.
    const theirs = ours.map((m, i) => (i % 5 === 0 ? member(i, 2) : m));
    const A = host('a', ours);
    const B = host('b', theirs);
    const sentEntries = (): number[] => A.out.filter((m) => m.type === MsgType.SyncEntries).flatMap((m) => (m as { entries: { hash: number }[] }).entries.map((e) => e.hash));
    const covered = new Set<number>();
    for (let round = 0; round < 40; round++) {
      A.out.length = 0;
      B.ae.start('a', 1, 'a');
      A.ae.onDigest(B.out.pop() as Extract<Message, { type: 6 }>, 'b', 1);
      const hashes = sentEntries();
      expect(hashes.length).toBeGreaterThan(0);
      expect(hashes.length).toBeLessThanOrEqual(232);
      // Whole buckets only, so the peer can tell what it lacks from what it has.
      const buckets = new Set(hashes.map(bucketOf));
      expect(hashes.length).toBe(ours.filter((m) => buckets.has(bucketOf(m.hash))).length);
      for (const b of buckets) covered.add(b);
    }
    // In turn, every differing bucket is offered.
    expect(covered.size).toBe(SYNC_BUCKETS);
  });

  it('gives a peer that counts far fewer members every differing bucket (a joiner)', () => {
    const ours = Array.from({ length: 2000 }, (_, i) => member(i));
    const A = host('a', ours);
    const J = host('j', []);
    J.ae.start('a', 1, null);
    A.ae.onDigest(J.out[0] as Extract<Message, { type: 6 }>, 'j', 1);
    const entries = A.out.filter((m) => m.type === MsgType.SyncEntries).flatMap((m) => (m as { entries: unknown[] }).entries);
    expect(entries).toHaveLength(2000);
  });

  it('serves every want chunk of one pull within the window as one full sync', () => {
    const ms = Array.from({ length: 1000 }, (_, i) => member(i));
    const A = host('a', ms);
    const chunk = (k: number) => ({ type: MsgType.SyncWant, from: 'j', hashes: ms.slice(k * 200, k * 200 + 200).map((m) => m.hash) }) as const;
    for (let k = 0; k < 5; k++) expect(A.ae.onWant(chunk(k), 'j', 1)).toBe(true);
    expect(A.ae.stats.fullSyncsServed).toBe(1);
    const facts = A.out.flatMap((m) => (m as { facts: Uint8Array[] }).facts);
    expect(facts).toHaveLength(1000);
    // A second and a third requester still count against the cap.
    expect(A.ae.onWant(chunk(0), 'k', 1)).toBe(true);
    expect(A.ae.onWant(chunk(0), 'l', 1)).toBe(false);
  });
});
