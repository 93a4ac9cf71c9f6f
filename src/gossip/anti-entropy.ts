/**
 * Anti-entropy: a periodic digest exchange that repairs whatever infection-
 * style gossip missed (a joiner's empty map, a healed partition, a fact whose
 * retransmit budget ran out during loss). Each step is cheap and only what
 * differs moves:
 *
 *   A -> B  digest: 64 bucket hashes (256 bytes)
 *   B -> A  entries for the buckets that differ (name hash, incarnation,
 *           state class: 11 bytes each, chunked to fit one datagram), and,
 *           unless A's digest was itself a reply, B's own digest back
 *   A -> B  want: the name hashes where B knows more than A
 *   B -> A  sync-records: the signed records (and dead/suspect facts) for
 *           those, chunked into datagrams of at most 1400 bytes
 *
 * The reply digest makes the exchange symmetric with pulls only: each side
 * asks for exactly what it lacks. Entries are bounded per exchange: when the
 * two digests count about as many members (ordinary churn: facts still in
 * flight), at most `maxEntries` entries go back, from differing buckets taken
 * in turn, so a busy cluster of 10,000 does not exchange its whole index
 * (110 kB) every second; a peer that counts far fewer members than we do (a
 * joiner, a healed partition) gets every differing bucket. The digest itself
 * is kept up to date by the member table as members change (member-table.ts),
 * not recomputed from every member each round. A request for many records is a full
 * sync (a joiner, a healed partition); at most `maxFullSyncs` are served per
 * window, so a crowd of joiners cannot make one seed flood its link; the
 * others are refused (counted) and retry on their next sync round.
 */
import { readU48BE } from '../bytes/endian.ts';
import { MAX_MESSAGE, MsgType, SYNC_BUCKETS, ENTRY_LEN, HASH_LEN48, factCost, factBudget } from './codec.ts';
import type { Message, SyncEntry } from './codec.ts';
import { createHash } from 'node:crypto';

export interface SyncMember {
  readonly name: string;
  readonly hash: number;
  readonly incarnation: number;
  /** 0 alive or suspect (suspicion is transient and not worth syncing), 1 dead, 2 left. */
  readonly stateClass: number;
}

export interface SyncHost {
  readonly selfName: string;
  syncMembers(): Iterable<SyncMember>;
  /** The digest of syncMembers(), kept current as they change. */
  digest(): { count: number; buckets: Uint32Array };
  byHash(hash: number): SyncMember | undefined;
  /** Encoded facts that bring a peer up to date on this member. */
  factsFor(hash: number): Uint8Array[];
  /**
   * Send to a peer named `to` (null: a seed whose name we do not know yet). `reply` marks an
   * answer to a received message: membership charges those to an unverified source's budget.
   */
  send(address: string, port: number, msg: Message, to: string | null, reply: boolean): void;
  now(): number;
}

export interface AntiEntropyOptions {
  /** Wants above this many records count as a full sync. 32 records is about five datagrams. */
  fullSyncThreshold: number;
  /** Full syncs served per window; 2 keeps a seed's burst near 300 datagrams per second at 1000 nodes. */
  maxFullSyncs: number;
  windowMs: number;
  /**
   * 232 entries (two datagrams) per exchange between peers that count about as many members: churn
   * repairs a few records a second, and what one exchange leaves out the next one (a second later,
   * with another peer) takes, starting from the next differing bucket.
   */
  maxEntries: number;
}

/** Want chunks served to one requester per window: 64 x 212 hashes, a map of 13,000 members. */
export const MAX_PULL_CHUNKS = 64;

export const DEFAULT_ANTI_ENTROPY: AntiEntropyOptions = { fullSyncThreshold: 32, maxFullSyncs: 2, windowMs: 1000, maxEntries: 232 };

/** Version order of what two nodes know: higher incarnation, then dead over alive, left over dead. */
export function newer(incA: number, clsA: number, incB: number, clsB: number): boolean {
  return incA > incB || (incA === incB && clsA > clsB);
}

/** A 32-bit mix of one entry (so that buckets can be summed: order does not matter). */
export function entryHash(hash: number, incarnation: number, stateClass: number): number {
  let h = Math.imul((hash >>> 0) ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(Math.floor(hash / 2 ** 32) + 0x27d4eb2f, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h ^= Math.imul(incarnation + 0x165667b1, 0x27d4eb2f) ^ (stateClass << 29);
  h = Math.imul(h ^ (h >>> 13), 0x5bd1e995);
  return (h ^ (h >>> 16)) >>> 0;
}

export function bucketOf(hash: number): number {
  return hash % SYNC_BUCKETS;
}

export function digestOf(members: Iterable<SyncMember>): { count: number; buckets: Uint32Array } {
  const buckets = new Uint32Array(SYNC_BUCKETS);
  let count = 0;
  for (const m of members) {
    const b = bucketOf(m.hash);
    buckets[b] = (buckets[b]! + entryHash(m.hash, m.incarnation, m.stateClass)) >>> 0;
    count++;
  }
  return { count, buckets };
}

export class AntiEntropy {
  readonly stats = { digestsSent: 0, fullSyncsServed: 0, refused: 0, recordsSent: 0, entriesSent: 0 };
  private windowStart = -Infinity;
  private servedInWindow = 0;
  /** Where the next bounded exchange starts among the differing buckets (a rotation). */
  private nextBucket = 0;
  /** Requesters of full syncs served this window, and how many want chunks each sent. */
  private readonly servedTo = new Map<string, number>();

  constructor(
    private readonly host: SyncHost,
    private readonly opts: AntiEntropyOptions = DEFAULT_ANTI_ENTROPY,
  ) {}

  /** Start an exchange with a peer named `to` (null: a seed at that address). */
  start(address: string, port: number, to: string | null): void {
    this.stats.digestsSent++;
    this.host.send(address, port, this.digest(false), to, false);
  }

  private digest(reply: boolean): Message {
    const { count, buckets } = this.host.digest();
    return { type: MsgType.SyncDigest, from: this.host.selfName, reply, count, buckets: buckets.slice() };
  }

  onDigest(msg: Extract<Message, { type: typeof MsgType.SyncDigest }>, address: string, port: number): void {
    const { count, buckets: mine } = this.host.digest();
    const differing: number[] = [];
    for (let i = 0; i < SYNC_BUCKETS; i++) if (mine[i] !== msg.buckets[i]) differing.push(i);
    if (differing.length === 0) return;
    // A peer missing many members gets every differing bucket; churn gets a bounded share, in turn.
    const byBucket = new Map<number, SyncEntry[]>();
    for (const b of differing) byBucket.set(b, []);
    for (const m of this.host.syncMembers()) byBucket.get(bucketOf(m.hash))?.push({ hash: m.hash, incarnation: m.incarnation, stateClass: m.stateClass });
    let entries: SyncEntry[] = [];
    if (count - msg.count >= this.opts.fullSyncThreshold) for (const b of differing) entries.push(...byBucket.get(b)!);
    else {
      // Whole buckets only (the peer tells what it lacks from a bucket's full list), at least one.
      const start = Math.max(0, differing.findIndex((b) => b >= this.nextBucket));
      for (let k = 0; k < differing.length; k++) {
        const b = differing[(start + k) % differing.length]!;
        const list = byBucket.get(b)!;
        if (k > 0 && entries.length + list.length > this.opts.maxEntries) break;
        entries = entries.concat(list);
        this.nextBucket = (b + 1) % SYNC_BUCKETS;
      }
    }
    this.stats.entriesSent += entries.length;
    const perMsg = Math.floor((MAX_MESSAGE - 70) / ENTRY_LEN);
    for (let i = 0; i < entries.length; i += perMsg) {
      this.host.send(address, port, { type: MsgType.SyncEntries, from: this.host.selfName, entries: entries.slice(i, i + perMsg) }, msg.from, true);
    }
    if (!msg.reply) {
      this.stats.digestsSent++;
      this.host.send(address, port, this.digest(true), msg.from, true);
    }
  }

  onEntries(msg: Extract<Message, { type: typeof MsgType.SyncEntries }>, address: string, port: number): void {
    const want: number[] = [];
    for (const e of msg.entries) {
      const m = this.host.byHash(e.hash);
      if (m === undefined || newer(e.incarnation, e.stateClass, m.incarnation, m.stateClass)) want.push(e.hash);
    }
    const perMsg = Math.floor((MAX_MESSAGE - 70) / HASH_LEN48);
    for (let i = 0; i < want.length; i += perMsg) {
      this.host.send(address, port, { type: MsgType.SyncWant, from: this.host.selfName, hashes: want.slice(i, i + perMsg) }, msg.from, true);
    }
  }

  /** Serve a pull; false when refused because too many full syncs ran this window. */
  onWant(msg: Extract<Message, { type: typeof MsgType.SyncWant }>, address: string, port: number): boolean {
    if (msg.hashes.length >= this.opts.fullSyncThreshold) {
      const now = this.host.now();
      if (now - this.windowStart >= this.opts.windowMs) {
        this.windowStart = now;
        this.servedInWindow = 0;
        this.servedTo.clear();
      }
      // One pull is many want chunks (a 10,000-member map is 48): they count as one full sync,
      // up to a map of 64 chunks; counted per chunk, a joiner waited 24 s for its map.
      const requester = `${address}:${port}`;
      const chunks = this.servedTo.get(requester);
      if (chunks === undefined ? this.servedInWindow >= this.opts.maxFullSyncs : chunks >= MAX_PULL_CHUNKS) {
        this.stats.refused++;
        return false;
      }
      if (chunks === undefined) {
        this.servedInWindow++;
        this.stats.fullSyncsServed++;
      }
      this.servedTo.set(requester, (chunks ?? 0) + 1);
    }
    const budget = factBudget(this.host.selfName);
    let batch: Uint8Array[] = [];
    let used = 0;
    const flush = (): void => {
      if (batch.length === 0) return;
      this.host.send(address, port, { type: MsgType.SyncRecords, from: this.host.selfName, facts: batch }, msg.from, true);
      batch = [];
      used = 0;
    };
    for (const h of msg.hashes) {
      for (const f of this.host.factsFor(h)) {
        const cost = factCost(f);
        if (cost > budget) continue;
        if (used + cost > budget || batch.length === 255) flush();
        batch.push(f);
        used += cost;
        this.stats.recordsSent++;
      }
    }
    flush();
    return true;
  }
}

const hashCache = new Map<string, number>();
/** The names behind the hashes (digest entries and wants carry hashes); the same bound as hashCache. */
const nameCache = new Map<number, string>();

/**
 * A node's 48-bit name hash: the first 6 bytes of SHA-256(name) (node:crypto, native: a joiner hashes
 * every name it learns). 1000 names collide by accident with probability ~2e-9.
 */
export function nameHash(name: string): number {
  const hit = hashCache.get(name);
  if (hit !== undefined) return hit;
  const h = createHash('sha256').update(name).digest();
  // Names are few and long-lived; the cache is dropped wholesale if churn ever grows it past 100k.
  if (hashCache.size >= 100_000) {
    hashCache.clear();
    nameCache.clear();
  }
  const v = readU48BE(h, 0);
  hashCache.set(name, v);
  nameCache.set(v, name);
  return v;
}

/** The name whose nameHash is `hash`, if this process hashed it lately (a cache: callers fall back to a scan). */
export function nameOfHash(hash: number): string | undefined {
  return nameCache.get(hash);
}
