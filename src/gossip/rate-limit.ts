/**
 * Per-source token buckets for gossip requests (the buckets themselves are
 * src/dataplane/token-buckets.ts, shared with WireGuard's handshake limit): the messages that make a
 * node send something back (pings, ping-reqs, sync digests, entries and
 * wants). Each source address:port gets `burst` tokens, refilled at `perSec`;
 * a request takes one, and a request finding the bucket empty is dropped
 * (counted as 'rate-limited') rather than queued: gossip tolerates loss, and
 * the sender's next round asks again.
 *
 * The table is bounded: at `maxSources` the least recently seen source is
 * forgotten. A forgotten source starts again with a full bucket, which only
 * ever errs towards letting a member through; what an unknown source can
 * make us send is bounded separately, by bytes (reply-budget.ts).
 */

import type { TokenBucketOptions } from '../dataplane/token-buckets.ts';

export interface RateLimitOptions extends TokenBucketOptions {
  /**
   * 64 requests a second from one source. The most an honest member sends
   * to one other is during a full-map exchange at 1000 nodes, when both
   * started one within the same second: its 2 digests (its own and the
   * reply to ours), 9 entries chunks (116 entries each) and 5 want chunks
   * (212 hashes each), plus its probes of us (a direct and a second direct
   * ping per 400 ms interval: 5 a second), ping-reqs (one per probe of its
   * own: 2.5) and pings it relays for others (rarely more than 1): about 30
   * a second at the very worst, 5 in steady state. 64 is twice that peak.
   */
  perSec: number;
  /** 128: two seconds' worth, so the bursts of one exchange (up to 30 datagrams at once) never touch the limit. */
  burst: number;
  /** 4096 sources: four times the 1000-member clusters this is built for, so members keep their buckets under churn. */
  maxSources: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { perSec: 64, burst: 128, maxSources: 4096 };

export { TokenBuckets } from '../dataplane/token-buckets.ts';
