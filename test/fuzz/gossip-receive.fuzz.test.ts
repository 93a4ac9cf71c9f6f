import { describe, expect, it } from 'vitest';
import { nameHash } from '../../src/gossip/anti-entropy.ts';
import type { Clock, TickHandle } from '../../src/gossip/clock.ts';
import * as codec from '../../src/gossip/codec.ts';
import { FactKind, MAX_DATAGRAM, MsgType, SYNC_BUCKETS, decodeMessage, encodeFact } from '../../src/gossip/codec.ts';
import type { Message } from '../../src/gossip/codec.ts';
import { Keyring } from '../../src/gossip/keyring.ts';
import { DROP_REASONS, Membership, MemberState } from '../../src/gossip/membership.ts';
import { RecordFlag, signRecord, signingPublicKey } from '../../src/gossip/record.ts';
import { signClaim } from '../../src/gossip/claim.ts';
import { fields } from '../unit/gossip/helpers.ts';
import { parseCidr } from '../../src/wire/addr.ts';
import { Fuzz, fuzzCount } from './fuzz-helpers.ts';

const SEED = 0x9055_1b;
const COUNT = fuzzCount(10_000);
const SELF = 'self-node';
const POOL = 24;
const INCARNATIONS = [0, 1, 2, 7, 0xffffffff];
/** Drops decided before a message's contents are looked at (admission, when the codec stamps datagrams). */
const ADMISSION_DROPS = new Set(['version', 'unauthenticated', 'malformed', 'wrong-recipient', 'replay', 'too-old', 'too-new', 'replay-cache-full', 'unverified', 'duplicate', 'rate-limited']);

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

/** A clock the test moves; its wall clock moves with it, so the replay window slides as virtual time passes. */
class ManualClock implements Clock {
  t = 1000;
  fns: (() => void)[] = [];
  now(): number {
    return this.t;
  }
  wall(): number {
    return 1_700_000_000_000 + this.t;
  }
  every(_ms: number, fn: () => void): TickHandle {
    this.fns.push(fn);
    return { cancel: () => (this.fns = this.fns.filter((f) => f !== fn)) };
  }
  step(ms: number): void {
    this.t += ms;
    for (const f of [...this.fns]) f();
  }
}

/**
 * Seal a message the way a member holding the cluster key would: through the codec's own encoder,
 * stamped for this recipient now when the codec stamps (a third argument it ignores otherwise).
 */
const encode = codec.encodeMessage as unknown as (m: Message, ring: Keyring, stamp?: { sentAt: number; to: number }) => Uint8Array;

describe(`gossip receive path under hostile, well-sealed messages (seed ${SEED.toString(16)})`, () => {
  it(`takes ${COUNT} hostile messages without a throw, with bounded state and only signed records believed`, () => {
    const f = new Fuzz(SEED);
    const key = new Uint8Array(32).fill(9);
    const ring = new Keyring(key);
    const clock = new ManualClock();
    let handler: (b: Uint8Array, a: string, p: number) => void = () => {};
    let sentNow = 0;
    let sentTotal = 0;
    const transport = {
      send: (_a: string, _p: number, bytes: Uint8Array) => {
        sentNow++;
        sentTotal++;
        check(bytes.length <= MAX_DATAGRAM, `sent ${bytes.length} bytes`);
        // What we say must be well formed whatever we were told (checked for a sample: opening costs).
        if ((sentTotal & 7) === 0) check(decodeMessage(bytes, ring).ok, 'sent a datagram that does not decode');
      },
      onMessage: (h: typeof handler) => (handler = h),
      close: () => {},
    };
    // Signing keys from the seed (an Ed25519 secret key is any 32 bytes), so every run signs the same records.
    const generateSigningKey = () => {
      const secretKey = f.bytes(32);
      return { secretKey, publicKey: signingPublicKey(secretKey) };
    };
    const me = generateSigningKey();
    const m = new Membership({ clock, transport, keyring: ring, secretKey: me.secretKey, self: fields(SELF, { address: '192.0.2.1' }), random: () => f.rand() });
    let events = 0;
    m.on(() => events++);
    m.start();
    const selfHash = nameHash(SELF);

    // The members that exist: each signs its own records, at several incarnations. A thief signs
    // records for their names (and ours) with its own key.
    const ids = Array.from({ length: POOL }, (_, j) => ({ name: `node-${j}`, key: generateSigningKey(), address: `192.0.2.${10 + j}` }));
    const thief = generateSigningKey();
    const records = ids.map((id, j) => INCARNATIONS.map((inc) => signRecord(fields(id.name, {
      // Odd members are dual-stack (v2 records with an IPv6 subnet), even ones IPv4-only (v1).
      address: id.address, subnets: j % 2 === 0 ? [parseCidr(`10.244.${j}.0/24`)] : [parseCidr(`10.244.${j}.0/24`), parseCidr(`fd00:10:244:${j}::/64`)],
      ...(j % 2 === 0 ? {} : { subnet6ClaimedAt: 1_700_000_000_000 + j }),
      flags: inc === 7 && j % 3 === 0 ? RecordFlag.Left : 0,
    }), inc, id.key.secretKey)));
    const forged = [...ids.map((id) => id.name), SELF].map((name) => signRecord(fields(name, { address: '203.0.113.66' }), 3, thief.secretKey));
    const names = [...ids.map((id) => id.name), SELF];
    const hashes = names.map(nameHash);

    const randomName = (): string => {
      const r = f.rand();
      if (r < 0.5) return f.pick(names);
      if (r < 0.6) return 'x'.repeat(1 + f.int(63));
      if (r < 0.7) return `node-${f.int(1000)}`;
      const s = f.text(20).replace(/[\ud800-\udfff]/gu, '');
      return s.length > 0 ? s : 'z';
    };
    const incarnation = (name: string): number => {
      const cur = m.get(name)?.incarnation ?? 0;
      return f.pick([0, 1, 2, 5, cur, cur, cur + 1, cur - 1, 0xffffffff, f.int(2 ** 32)]) >>> 0;
    };
    // Signing costs: claims come from four claimers, and each distinct claim is signed once.
    const claimers = ids.slice(0, 4);
    const signatures = new Map<string, Uint8Array>();
    const signed = (kind: 5 | 6, name: string, inc: number, by: string, sk: Uint8Array): Uint8Array => {
      const k = `${kind} ${name} ${inc} ${by} ${sk === thief.secretKey}`;
      let b = signatures.get(k);
      if (b === undefined) {
        b = signClaim(kind, name, inc, by, sk);
        signatures.set(k, b);
      }
      return b.slice();
    };
    const fact = (): Uint8Array => {
      const r = f.rand();
      if (r < 0.3) return encodeFact({ kind: FactKind.Alive, record: f.pick(f.pick(records)) });
      if (r < 0.38) return encodeFact({ kind: FactKind.Alive, record: f.pick(forged) });
      if (r < 0.41) return encodeFact({ kind: FactKind.Alive, record: f.mutateBytes(f.pick(f.pick(records)), [], 400) }); // bad signatures, bad layouts
      if (r < 0.43) {
        const rec = f.pick(f.pick(records));
        return encodeFact({ kind: FactKind.Alive, record: rec.subarray(0, f.int(rec.length)) }); // truncated, v1 and v2
      }
      if (r < 0.75) {
        const name = randomName();
        const kind = f.chance(0.5) ? FactKind.Suspect : FactKind.Dead;
        const q = f.rand();
        // Signed by the member it names as claimer, forged (the thief's key under a member's name), or unsigned (old weft).
        // Signed ones at a few incarnations (the held one among them), so that each is signed once.
        const inc = f.pick([...INCARNATIONS, m.get(name)?.incarnation ?? 0]);
        if (q < 0.5) {
          const by = f.pick(claimers);
          return signed(kind, f.pick(names), inc, by.name, by.key.secretKey);
        }
        if (q < 0.75) return signed(kind, f.pick(names), inc, f.pick(claimers).name, thief.secretKey);
        return encodeFact({ kind: kind === FactKind.Suspect ? FactKind.UnsignedSuspect : FactKind.UnsignedDead, name, incarnation: incarnation(name), from: randomName() });
      }
      if (r < 0.85) return f.mutateBytes(signed(FactKind.Suspect, f.pick(names), 1, f.pick(claimers).name, thief.secretKey), [], 128);
      const b = f.bytes(1 + f.int(40));
      b[0] = f.pick([0, 1, 2, 3, 4, 255, b[0]!]);
      return b;
    };
    const facts = (budget = 900): Uint8Array[] => {
      const out: Uint8Array[] = [];
      if (f.chance(0.05)) {
        // The most facts a message can carry: 255 tiny ones.
        for (let k = 0; k < 255; k++) out.push(Uint8Array.of(f.pick([1, 2, 3, 0, 9])));
        return out;
      }
      let used = 0;
      for (let k = f.int(8); k > 0; k--) {
        const x = fact();
        if (used + 3 + x.length > budget) break;
        out.push(x);
        used += 3 + x.length;
      }
      return out;
    };
    const hash48 = (): number => (f.chance(0.6) ? f.pick(hashes) : f.pick([0, 1, 2 ** 48 - 1, f.int(2 ** 32) * 2 ** 16 + f.int(2 ** 16)]));
    const message = (): Message => {
      const from = randomName();
      const r = f.rand();
      if (r < 0.4) return { type: f.chance(0.7) ? MsgType.Gossip : MsgType.SyncRecords, from, facts: facts() };
      if (r < 0.5) return { type: MsgType.Ping, from, seq: f.int(2 ** 32), target: f.chance(0.5) ? SELF : randomName(), facts: facts(600) };
      if (r < 0.58) return { type: MsgType.PingReq, from, seq: f.int(2 ** 32), target: randomName(), facts: facts(600) };
      if (r < 0.64) return { type: f.chance(0.5) ? MsgType.Ack : MsgType.Nack, from, seq: f.chance(0.5) ? f.int(2000) : f.int(2 ** 32), facts: facts(600) };
      if (r < 0.76) {
        const buckets = new Uint32Array(SYNC_BUCKETS);
        for (let k = 0; k < SYNC_BUCKETS; k++) buckets[k] = f.chance(0.5) ? 0 : f.int(2 ** 32);
        return { type: MsgType.SyncDigest, from, reply: f.chance(0.5), count: f.pick([0, 1, 25, 0xffffffff, f.int(2 ** 32)]), buckets };
      }
      if (r < 0.88) {
        const entries = Array.from({ length: f.int(f.chance(0.2) ? 110 : 10) }, () => ({ hash: hash48(), incarnation: f.pick([0, 1, 0xffffffff, f.int(2 ** 32)]), stateClass: f.pick([0, 1, 2, 3, 255]) }));
        return { type: MsgType.SyncEntries, from, entries };
      }
      const hs = Array.from({ length: f.int(f.chance(0.3) ? 200 : 40) }, hash48);
      return { type: MsgType.SyncWant, from, hashes: hs };
    };

    const admittedDrops = () => DROP_REASONS.filter((r) => ADMISSION_DROPS.has(r)).reduce((s, r) => s + m.drops.get(r), 0);
    let selfClaims = 0;
    let last: Uint8Array | null = null;
    const liveOf = () => m.all().filter((x) => x.isLive).length;
    for (let i = 0; i < COUNT; i++) {
      const msg = message();
      if ('facts' in msg) {
        for (const b of msg.facts) {
          if ((b[0] === FactKind.Suspect || b[0] === FactKind.Dead || b[0] === FactKind.UnsignedSuspect || b[0] === FactKind.UnsignedDead) && b.length > 6) selfClaims++;
        }
      }
      let bytes = encode(msg, ring, { sentAt: clock.wall() - f.int(2000), to: f.chance(0.95) ? selfHash : 0 });
      const r = f.rand();
      if (r < 0.02) bytes = f.mutateBytes(bytes, [], MAX_DATAGRAM + 10); // broken seals
      else if (r < 0.03) bytes = f.bytes(f.int(1500));
      else if (r < 0.05 && last !== null) bytes = last; // a replay of an earlier datagram
      last = bytes;
      // From a member's own address (a verified source), or from anywhere.
      const fromMember = f.chance(0.4);
      const address = fromMember ? f.pick(ids).address : `198.51.100.${f.int(256)}`;
      const port = fromMember ? 7946 : 1024 + f.int(60000);
      sentNow = 0;
      try {
        handler(bytes, address, port);
      } catch (err) {
        throw new Error(`message ${i} (${JSON.stringify(msg, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))}) threw`, { cause: err });
      }
      // One datagram in, a bounded answer out: a full sync is at most a few dozen datagrams.
      check(sentNow <= 64, `message ${i} made us send ${sentNow} datagrams`);
      if (i % 25 === 24) clock.step(50);

      if (i % 500 === 499 || i === COUNT - 1) {
        const all = m.all();
        // Only names that someone signed for are members, each once; we are one of them.
        check(all.every((x) => names.includes(x.name)) && new Set(all.map((x) => x.name)).size === all.length, `message ${i}: members ${all.map((x) => x.name).join(', ')}`);
        check(m.get(SELF)?.record.signingKey !== undefined && Buffer.compare(m.get(SELF)!.record.signingKey, me.publicKey) === 0, 'our own record was replaced');
        check(m.get(SELF)!.state === MemberState.Alive, 'we are not alive to ourselves');
        // A member's record is one its owner signed: nobody else's key took a name the owner announced first.
        for (const x of all) {
          if (x.name === SELF) continue;
          const owner = ids.find((id) => id.name === x.name)!;
          const byOwner = Buffer.compare(x.record.signingKey, owner.key.publicKey) === 0;
          const byThief = Buffer.compare(x.record.signingKey, thief.publicKey) === 0;
          check(byOwner || byThief, `message ${i}: ${x.name} holds a record under an unknown key`);
          check(x.incarnation >= 0 && x.incarnation <= 0xffffffff && x.incarnation <= x.record.incarnation, `message ${i}: ${x.name} incarnation ${x.incarnation} over its record's ${x.record.incarnation}`);
        }
        check(m.incarnation <= selfClaims + 1, `message ${i}: our incarnation ${m.incarnation} after ${selfClaims} claims`);
        check(m.liveCount === liveOf(), `message ${i}: liveCount ${m.liveCount}, ${liveOf()} live`);
        const internals = m as unknown as { queue: { size: number }; states: { suspects: Set<{ state: number; name: string }> }; prober: { relays: Map<number, unknown> } };
        check(internals.queue.size <= all.length, `message ${i}: ${internals.queue.size} queued facts for ${all.length} members`);
        check(internals.states.suspects.size <= all.length && [...internals.states.suspects].every((s) => s.state === MemberState.Suspect && m.get(s.name) === s), `message ${i}: suspects`);
        check(internals.prober.relays.size <= 500, `message ${i}: ${internals.prober.relays.size} ping-req relays pending`);
      }
    }
    if (process.env.WEFT_FUZZ_VERBOSE) console.log(Object.fromEntries(DROP_REASONS.map((r) => [r, m.drops.get(r)])), m.stats, m.all().length, m.incarnation);
    // Most messages got past admission to the contents under test.
    expect(admittedDrops()).toBeLessThan(COUNT * 0.5);
    // The contents were exercised: records believed, claims judged, forgeries refused.
    expect(m.drops.get('key-mismatch')).toBeGreaterThan(0);
    expect(m.drops.get('bad-fact')).toBeGreaterThan(0);
    expect(m.drops.get('unknown-member')).toBeGreaterThan(0);
    // Claims: forged and unsigned ones were dropped by reason, and signed ones were judged (some believed: events).
    expect(m.drops.get('bad-claim-signature')).toBeGreaterThan(0);
    expect(m.drops.get('unsigned-claim')).toBeGreaterThan(0);
    expect(m.drops.get('stale')).toBeGreaterThan(0);
    expect(m.all().length).toBeGreaterThan(POOL / 2);
    expect(events).toBeGreaterThan(0);
    m.stop();
  }, Math.max(30_000, COUNT));
});
