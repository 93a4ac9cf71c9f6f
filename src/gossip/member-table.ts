/**
 * The members a node knows, by name, and the tombstones: members declared
 * dead, kept for a while so that a stale "alive" fact cannot bring them back
 * and a healed partition can still find them. Reaping forgets tombstones and
 * departed members once they are older than the tombstone time.
 *
 * The table also keeps the anti-entropy digest of its members (64 bucket
 * sums, anti-entropy.ts) current as they change, one entry's hash out and
 * one in, so a sync round costs nothing per member: recomputing it was
 * O(members) per node per second, 10^8 hashes a second for a simulated
 * 10,000-node cluster. Every change of a member's incarnation or state goes
 * through `change` for that reason.
 *
 * Shared members: a map restored once can back many tables (the simulator's
 * 10,000 nodes all start from the same 10,000 records; 10^8 private entries
 * would not fit in memory). Such a table reads the shared map under its own
 * entries and never writes a shared Member: the first change copies it into
 * the table's own entries (`own`). A real node restores its own map and
 * holds only own entries.
 */
import { bucketOf, entryHash, nameOfHash } from './anti-entropy.ts';
import { SYNC_BUCKETS } from './codec.ts';
import { MemberState } from './member.ts';
import type { Member } from './member.ts';

/** Members built once and read by many tables (never written: tables copy on change). */
export interface SharedMembers {
  readonly byName: ReadonlyMap<string, Member>;
  readonly digest: Uint32Array;
  readonly live: number;
}

/** Share `members` (each marked shared) between tables. */
export function shareMembers(members: readonly Member[]): SharedMembers {
  const byName = new Map<string, Member>();
  const digest = new Uint32Array(SYNC_BUCKETS);
  let live = 0;
  for (const m of members) {
    m.shared = true;
    byName.set(m.name, m);
    add(digest, m);
    if (m.isLive) live++;
  }
  return { byName, digest, live };
}

const NO_MEMBERS: SharedMembers = { byName: new Map(), digest: new Uint32Array(SYNC_BUCKETS), live: 0 };

function add(digest: Uint32Array, m: Member, sign = 1): void {
  const b = bucketOf(m.hash);
  digest[b] = (digest[b]! + sign * entryHash(m.hash, m.incarnation, m.stateClass)) >>> 0;
}

export class MemberTable {
  /** Members this table added or changed itself. */
  private readonly own = new Map<string, Member>();
  private base: SharedMembers = NO_MEMBERS;
  /** Names of the shared map this table has forgotten. */
  private readonly hidden = new Set<string>();
  private buried: Member[] = [];
  private count = 0;
  /** Anti-entropy's digest of every member here. */
  readonly digest = new Uint32Array(SYNC_BUCKETS);

  get size(): number {
    return this.count;
  }

  /** Read `shared` under this table's own entries (which take precedence). */
  share(shared: SharedMembers): void {
    this.base = shared;
    this.digest.set(shared.digest);
    this.count = shared.byName.size;
    for (const m of this.own.values()) {
      const under = shared.byName.get(m.name);
      if (under !== undefined) {
        add(this.digest, under, -1);
        this.count--;
      }
      add(this.digest, m);
      this.count++;
    }
  }

  add(m: Member): void {
    const before = this.get(m.name);
    if (before !== undefined) this.forget(before);
    this.own.set(m.name, m);
    add(this.digest, m);
    this.count++;
  }

  /** A copy of a shared member, to be written: it takes the shared one's place here. */
  adoptCopy(copy: Member): void {
    this.own.set(copy.name, copy);
  }

  /** Set a member's incarnation and state (the digest follows). */
  change(m: Member, incarnation: number, state: MemberState): void {
    if (m.shared) throw new Error(`shared member ${m.name} written`);
    if (incarnation === m.incarnation && state === m.state) return;
    const listed = this.get(m.name) === m;
    if (listed) add(this.digest, m, -1);
    m.incarnation = incarnation;
    m.state = state;
    if (listed) add(this.digest, m);
  }

  /** The member (any state, tombstones included) whose record names this gossip address and port (a scan: cold path). */
  atEndpoint(address: string, port: number): Member | undefined {
    for (const m of this.values()) if (m.record.address === address && m.record.gossipPort === port) return m;
    return undefined;
  }

  get(name: string): Member | undefined {
    const m = this.own.get(name);
    if (m !== undefined || this.base === NO_MEMBERS) return m;
    return this.hidden.size > 0 && this.hidden.has(name) ? undefined : this.base.byName.get(name);
  }

  byHash(hash: number): Member | undefined {
    const name = nameOfHash(hash);
    if (name !== undefined) {
      const m = this.get(name);
      return m !== undefined && m.hash === hash ? m : undefined;
    }
    for (const m of this.values()) if (m.hash === hash) return m;
    return undefined;
  }

  *values(): IterableIterator<Member> {
    yield* this.own.values();
    if (this.base === NO_MEMBERS) return;
    for (const [name, m] of this.base.byName) if (!this.own.has(name) && !this.hidden.has(name)) yield m;
  }

  /** Keep a member declared dead as a tombstone. */
  bury(m: Member): void {
    this.buried.push(m);
  }

  /** Tombstones, oldest first (some may have come back to life since). */
  get tombstones(): readonly Member[] {
    return this.buried;
  }

  /** Tombstones still dead and still the table's entry for their name. */
  dead(): Member[] {
    return this.buried.filter((m) => m.state === MemberState.Dead && this.get(m.name) === m);
  }

  /** Forget tombstones and departed members older than `tombstoneMs` at `now`. */
  reap(now: number, tombstoneMs: number): void {
    this.buried = this.buried.filter((m) => {
      if (m.isLive || this.get(m.name) !== m) return false;
      if (now - m.since < tombstoneMs) return true;
      this.forget(m);
      return false;
    });
    const left: Member[] = [];
    for (const m of this.values()) if (m.state === MemberState.Left && now - m.since >= tombstoneMs) left.push(m);
    for (const m of left) this.forget(m);
  }

  /** Drop a tombstone or departed member now, at an operator's word (forget.ts), not at reaping time. */
  remove(m: Member): void {
    this.forget(m);
    this.buried = this.buried.filter((x) => x !== m);
  }

  private forget(m: Member): void {
    if (this.get(m.name) !== m) return;
    add(this.digest, m, -1);
    this.count--;
    this.own.delete(m.name);
    if (this.base.byName.has(m.name)) this.hidden.add(m.name);
  }
}
