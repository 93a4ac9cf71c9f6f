/**
 * A simulated cluster: N nodes running the real Membership code (real codec,
 * real AEAD, real signed records) over SimNetwork on the virtual clock.
 *
 * Three shortcuts keep 10,000 nodes affordable, none of which skips a check
 * or changes what a node decides: signatures are verified for real the first
 * time a signature is seen anywhere in the simulation and the verdict is
 * memoized for the other nodes (each node still asks, and still acts on the
 * answer); decoded records (immutable) are shared the same way; and nodes
 * start from one preloaded map shared by all of them (`Membership.adopt`,
 * member-table.ts: read in place, copied by a node on its first change), as
 * a node restoring its saved map would, so that big runs measure
 * steady-state behaviour, not N^2 joins, with N member objects, not N^2
 * (each node still keeps its own probe list: 8 bytes per member).
 */
// The protocol takes its randomness (probe order, gossip targets) from an injected
// `() => number`; a seeded one makes a simulated run reproducible.
import { seededRandom } from '../helpers/random.ts';
import { verifyClaim } from '../../src/gossip/claim.ts';
import { Keyring } from '../../src/gossip/keyring.ts';
import { Membership } from '../../src/gossip/membership.ts';
import type { MemberEvent, MembershipConfig } from '../../src/gossip/membership.ts';
import { nameHash } from '../../src/gossip/anti-entropy.ts';
import { Member, MemberState } from '../../src/gossip/member.ts';
import { shareMembers } from '../../src/gossip/member-table.ts';
import { decodeRecord, generateSigningKey, verifyRecord } from '../../src/gossip/record.ts';
import type { RecordFields, RecordVerdict } from '../../src/gossip/record.ts';
import { formatIpv4, deriveVtepMac } from '../../src/wire/addr.ts';
import { SimNetwork } from './sim-network.ts';
import type { NetworkOptions } from './sim-network.ts';
import { NodeClock, Scheduler } from './virtual-clock.ts';

export const GOSSIP_PORT = 7946;

export interface SimNode {
  readonly index: number;
  readonly name: string;
  readonly address: string;
  readonly clock: NodeClock;
  readonly m: Membership;
  readonly secretKey: Uint8Array;
  up: boolean;
  events: (MemberEvent & { t: number })[];
}

export interface ClusterOptions {
  seed?: number;
  net?: Partial<NetworkOptions>;
  config?: Partial<MembershipConfig>;
  /** Record every event per node (tests); the bench listens itself. */
  keepEvents?: boolean;
  /** Each node's wall clock is off by a uniform random amount in [-skewMs, +skewMs]. */
  skewMs?: number;
}

const sigKey = (sig: Uint8Array): string => Buffer.from(sig.buffer, sig.byteOffset, sig.length).toString('latin1');

export class SimCluster {
  readonly sched = new Scheduler();
  readonly random: () => number;
  readonly net: SimNetwork;
  readonly nodes: SimNode[] = [];
  /** The cluster key (public: replay tests open and seal datagrams with it, as an insider could). */
  readonly keyring = new Keyring(new Uint8Array(32).fill(7));
  private readonly verified = new Map<string, boolean>();
  private readonly decoded = new Map<string, RecordVerdict>();
  // First level by object identity (a preloaded or shared record is the same array everywhere), then by content.
  private readonly verifiedSigs = new WeakMap<Uint8Array, boolean>();
  private readonly decodedBytes = new WeakMap<Uint8Array, RecordVerdict>();
  private readonly verify = (body: Uint8Array, sig: Uint8Array, key: Uint8Array): boolean => {
    const quick = this.verifiedSigs.get(sig);
    if (quick !== undefined) return quick;
    const k = sigKey(sig) + sigKey(key);
    let v = this.verified.get(k);
    if (v === undefined) {
      v = verifyRecord(body, sig, key);
      this.verified.set(k, v);
    }
    this.verifiedSigs.set(sig, v);
    return v;
  };
  private readonly claimsVerified = new Map<string, boolean>();
  /** Claims (claim.ts) the same way: verified for real the first time a signature is seen. */
  private readonly verifyClaim = (body: Uint8Array, sig: Uint8Array, key: Uint8Array): boolean => {
    const k = sigKey(sig) + sigKey(key) + sigKey(body);
    let v = this.claimsVerified.get(k);
    if (v === undefined) {
      v = verifyClaim(body, sig, key);
      this.claimsVerified.set(k, v);
    }
    return v;
  };
  private readonly decode = (bytes: Uint8Array): RecordVerdict => {
    const quick = this.decodedBytes.get(bytes);
    if (quick !== undefined) return quick;
    const k = sigKey(bytes.subarray(Math.max(0, bytes.length - 64)));
    let v = this.decoded.get(k);
    if (v === undefined || (v.ok && v.body.length + 64 !== bytes.length)) {
      v = decodeRecord(bytes);
      if (v.ok) this.decoded.set(k, v);
    }
    this.decodedBytes.set(bytes, v);
    return v;
  };

  constructor(private readonly opts: ClusterOptions = {}) {
    this.random = seededRandom(opts.seed ?? 1);
    this.net = new SimNetwork(this.sched, this.random, opts.net);
  }

  get now(): number {
    return this.sched.now;
  }

  /** Create a node (not started). Addresses are 10.0.0.1, 10.0.0.2, ... */
  add(name?: string, fields?: Partial<RecordFields>, reuse?: SimNode): SimNode {
    const index = reuse?.index ?? this.nodes.length;
    const address = formatIpv4(0x0a000001 + index);
    const nodeName = reuse?.name ?? name ?? `node-${index}`;
    const skew = this.opts.skewMs ?? 0;
    const clock = new NodeClock(this.sched, skew === 0 ? 0 : (this.random() * 2 - 1) * skew);
    const transport = this.net.attach(address, GOSSIP_PORT, clock);
    const id = reuse === undefined ? generateSigningKey() : { secretKey: reuse.secretKey };
    const m = new Membership({
      clock,
      transport,
      keyring: this.keyring,
      secretKey: id.secretKey,
      random: seededRandom((this.opts.seed ?? 1) * 7919 + index),
      verify: this.verify,
      verifyClaim: this.verifyClaim,
      decode: this.decode,
      ...(this.opts.config === undefined ? {} : { config: this.opts.config }),
      self: {
        name: nodeName,
        flags: 0,
        wgPublicKey: null,
        address,
        gossipPort: GOSSIP_PORT,
        dataPort: 8472,
        vtepMac: deriveVtepMac(nodeName),
        vtepIp: '10.244.0.0',
        subnetClaimedAt: 0,
        location: 'sim',
        subnets: [],
        ...fields,
      },
    });
    const node: SimNode = { index, name: nodeName, address, clock, m, secretKey: id.secretKey, up: true, events: [] };
    if (this.opts.keepEvents === true) m.on((e) => node.events.push({ ...e, t: this.sched.now }));
    if (reuse === undefined) this.nodes.push(node);
    else this.nodes[index] = node;
    return node;
  }

  /** A crashed node's process starts again: same name, address and key, empty memory (not started). */
  restart(old: SimNode, fields?: Partial<RecordFields>): SimNode {
    return this.add(undefined, fields, old);
  }

  /**
   * n nodes that all start knowing each other's signed records, then run. `knows(i, j)` (positions
   * among the n) can leave some records out of a node's map (default: everyone knows everyone).
   */
  preloaded(n: number, knows?: (node: number, other: number) => boolean): SimNode[] {
    const made: SimNode[] = [];
    for (let i = 0; i < n; i++) made.push(this.add());
    const records = made.map((x) => x.m.get(x.name)!.bytes);
    if (knows !== undefined) {
      made.forEach((x, i) => {
        x.m.restore(records.filter((_, j) => j === i || knows(i, j)));
        x.m.start();
      });
      return made;
    }
    // Everyone knows everyone: one shared map, each record checked once here as restore() would.
    const members = records.map((bytes) => {
      const v = this.decode(bytes);
      if (!v.ok || !this.verify(v.body, v.signature, v.record.signingKey)) throw new Error('a simulated node signed a bad record');
      const m = new Member(v.record, bytes, nameHash(v.record.name), this.sched.now);
      m.state = MemberState.Alive;
      return m;
    });
    const shared = shareMembers(members);
    for (const x of made) {
      x.m.adopt(shared);
      x.m.start();
    }
    return made;
  }

  /** Start a node and join it through `seeds`. */
  join(node: SimNode, seeds: SimNode[]): void {
    node.m.start();
    node.m.join(seeds.map((s) => ({ address: s.address, port: GOSSIP_PORT })));
  }

  kill(node: SimNode): void {
    node.up = false;
    this.net.kill(node.address, GOSSIP_PORT);
    node.m.stop();
  }

  pause(node: SimNode, ms: number): void {
    node.clock.pausedUntil = Math.max(node.clock.pausedUntil, this.sched.now + ms);
  }

  partition(groupOf: (n: SimNode) => number): void {
    for (const n of this.nodes) this.net.setGroup(n.address, GOSSIP_PORT, groupOf(n));
  }

  heal(): void {
    this.partition(() => 0);
  }

  run(ms: number): void {
    this.sched.runFor(ms);
  }

  /** Run in steps of `stepMs` until `done()` or `maxMs` passed; returns the time taken, or -1. */
  runUntil(done: () => boolean, maxMs: number, stepMs = 10): number {
    const start = this.sched.now;
    while (this.sched.now - start < maxMs) {
      if (done()) return this.sched.now - start;
      this.sched.runFor(stepMs);
    }
    return done() ? this.sched.now - start : -1;
  }

  up(): SimNode[] {
    return this.nodes.filter((n) => n.up);
  }

  /** Whether every running node sees `name` live (or, with live = false, not live). */
  allSee(name: string, live: boolean, among: SimNode[] = this.up()): boolean {
    return among.every((n) => n.name === name || (n.m.get(name)?.isLive ?? false) === live);
  }
}
