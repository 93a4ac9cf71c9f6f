/**
 * The members a node knows, by name and by name hash (anti-entropy digests
 * carry hashes), and the tombstones: members declared dead, kept for a while
 * so that a stale "alive" fact cannot bring them back and a healed partition
 * can still find them. Reaping forgets tombstones and departed members once
 * they are older than the tombstone time. Members are also found by gossip
 * endpoint (address:port): a source there is a verified one (admission.ts).
 */
import { MemberState } from './member.ts';
import type { Member } from './member.ts';

export class MemberTable {
  private readonly byName = new Map<string, Member>();
  private readonly byNameHash = new Map<number, Member>();
  private readonly byEndpoint = new Map<string, Member>();
  private buried: Member[] = [];

  add(m: Member): void {
    this.byName.set(m.name, m);
    this.byNameHash.set(m.hash, m);
    this.byEndpoint.set(endpointOf(m.record), m);
  }

  /** A member's record was replaced: index it under its (possibly new) gossip endpoint. */
  readdressed(m: Member, before: { address: string; gossipPort: number }): void {
    const old = endpointOf(before);
    if (this.byEndpoint.get(old) === m) this.byEndpoint.delete(old);
    this.byEndpoint.set(endpointOf(m.record), m);
  }

  /** The member (any state, tombstones included) whose record names this gossip address and port. */
  atEndpoint(address: string, port: number): Member | undefined {
    return this.byEndpoint.get(`${address}:${port}`);
  }

  get(name: string): Member | undefined {
    return this.byName.get(name);
  }

  byHash(hash: number): Member | undefined {
    return this.byNameHash.get(hash);
  }

  values(): IterableIterator<Member> {
    return this.byName.values();
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
    return this.buried.filter((m) => m.state === MemberState.Dead && this.byName.get(m.name) === m);
  }

  /** Forget tombstones and departed members older than `tombstoneMs` at `now`. */
  reap(now: number, tombstoneMs: number): void {
    this.buried = this.buried.filter((m) => {
      if (m.isLive || this.byName.get(m.name) !== m) return false;
      if (now - m.since < tombstoneMs) return true;
      this.forget(m);
      return false;
    });
    for (const m of this.byName.values()) {
      if (m.state === MemberState.Left && now - m.since >= tombstoneMs) this.forget(m);
    }
  }

  /** Drop a tombstone or departed member now, at an operator's word (forget.ts), not at reaping time. */
  remove(m: Member): void {
    this.forget(m);
    this.buried = this.buried.filter((x) => x !== m);
  }

  private forget(m: Member): void {
    this.byName.delete(m.name);
    this.byNameHash.delete(m.hash);
    const e = endpointOf(m.record);
    if (this.byEndpoint.get(e) === m) this.byEndpoint.delete(e);
  }
}

function endpointOf(r: { address: string; gossipPort: number }): string {
  return `${r.address}:${r.gossipPort}`;
}
