/**
 * What an opened gossip datagram must pass before membership acts on it,
 * and what a reply must pass before it leaves. The rule behind all of it:
 * no input makes a node send more than it received, unless the input came
 * from a member it knows at that address (the member the message names as
 * its sender: one lookup by name, no index by address), and then only at a
 * member's rate.
 *
 *   1. the stamp names us (or, for a joiner's first messages, anyone):
 *      a datagram captured on its way elsewhere is refused ('wrong-recipient');
 *   2. the replay guard: fresh stamp, unseen nonce (replay-guard.ts);
 *   3. bytes from an unverified source are credited to its reply budget
 *      (reply-budget.ts); every reply to it is charged there;
 *   4. requests (the messages that make us send: ping, ping-req, sync
 *      digest, entries, want): ping-reqs only from members ('unverified':
 *      SWIM's indirect probes are asked by group members), identical sync
 *      requests and ping-reqs within a second dropped (request-dedup.ts), and
 *      each source held to a token bucket (rate-limit.ts).
 *
 * Every refusal is a drop reason of membership, counted; nothing throws.
 */
import { ANY_RECIPIENT, MsgType } from './codec.ts';
import type { DecodeVerdict } from './codec.ts';
import { DEFAULT_RATE_LIMIT, TokenBuckets } from './rate-limit.ts';
import type { RateLimitOptions } from './rate-limit.ts';
import { DEFAULT_REPLAY_GUARD, ReplayGuard } from './replay-guard.ts';
import type { ReplayGuardOptions } from './replay-guard.ts';
import { DEFAULT_REPLY_BUDGET, ReplyBudget } from './reply-budget.ts';
import type { ReplyBudgetOptions } from './reply-budget.ts';
import { DEFAULT_DEDUP, RecentRequests } from './request-dedup.ts';
import type { DedupOptions } from './request-dedup.ts';

export interface AdmissionHost {
  /** Our own 48-bit name hash (the stamp's recipient). */
  readonly selfHash: number;
  /** Monotonic ms (rate limits, de-duplication). */
  now(): number;
  /** Wall-clock ms since the Unix epoch (the stamps). */
  wall(): number;
  /** Whether the member named `name`, whose record we hold, has this address and gossip port. */
  verified(address: string, port: number, name: string | null): boolean;
}

export interface AdmissionOptions {
  replay: ReplayGuardOptions;
  rate: RateLimitOptions;
  reply: ReplyBudgetOptions;
  dedup: DedupOptions;
}

export const DEFAULT_ADMISSION: AdmissionOptions = {
  replay: DEFAULT_REPLAY_GUARD,
  rate: DEFAULT_RATE_LIMIT,
  reply: DEFAULT_REPLY_BUDGET,
  dedup: DEFAULT_DEDUP,
};

export type AdmissionDrop =
  | 'wrong-recipient' | 'replay' | 'too-old' | 'too-new' | 'replay-cache-full' | 'unverified' | 'duplicate' | 'rate-limited';

type Opened = Extract<DecodeVerdict, { ok: true }>;

export class Admission {
  readonly guard: ReplayGuard;
  readonly buckets: TokenBuckets;
  readonly budget: ReplyBudget;
  readonly recent: RecentRequests;

  constructor(
    private readonly host: AdmissionHost,
    opts: AdmissionOptions = DEFAULT_ADMISSION,
  ) {
    this.guard = new ReplayGuard(opts.replay);
    this.buckets = new TokenBuckets(opts.rate);
    this.budget = new ReplyBudget(opts.reply);
    this.recent = new RecentRequests(opts.dedup);
  }

  /** null to accept the datagram (`size` bytes from address:port), or why it is dropped. */
  admit(v: Opened, size: number, address: string, port: number): AdmissionDrop | null {
    const msg = v.msg;
    const to = v.stamp.to;
    if (to === ANY_RECIPIENT ? !mayBeUnaddressed(msg) : to !== this.host.selfHash) return 'wrong-recipient';
    const r = this.guard.check(v.nonce, v.stamp.sentAt, this.host.wall());
    if (r !== 'ok') return r;
    const verified = this.host.verified(address, port, msg.from);
    const source = `${address}:${port}`;
    if (!verified) this.budget.received(source, size);
    const t = msg.type;
    // Acks, nacks, gossip and sync-records make us send nothing in answer: no further checks.
    if (t !== MsgType.Ping && t !== MsgType.PingReq && t !== MsgType.SyncDigest && t !== MsgType.SyncEntries && t !== MsgType.SyncWant) return null;
    if (t === MsgType.PingReq && !verified) return 'unverified';
    if (t !== MsgType.Ping && this.recent.repeated(source, v.body, this.host.now())) return 'duplicate';
    return this.buckets.take(source, this.host.now()) ? null : 'rate-limited';
  }

  /** May a reply of `size` bytes go to the node `to` at address:port? Members: yes; anyone else: within its budget. */
  mayReply(address: string, port: number, to: string | null, size: number): boolean {
    return this.host.verified(address, port, to) || this.budget.spend(`${address}:${port}`, size);
  }
}

/** A joiner's first messages to seeds whose names it does not know yet: its announcement and its first pull. */
function mayBeUnaddressed(msg: Opened['msg']): boolean {
  return msg.type === MsgType.Gossip || (msg.type === MsgType.SyncDigest && !msg.reply);
}
