/**
 * The members a node knows, by name and by name hash (anti-entropy digests
 * carry hashes), and the tombstones: members declared dead, kept for a while
 * so that a stale "alive" fact cannot bring them back and a healed partition
 * can still find them. Reaping forgets tombstones and departed members once
 * they are older than the tombstone time.
 */
import { MemberState } from './member.ts';
import type { Member } from './member.ts';

export class MemberTable {
  private readonly byName = new Map<string, Member>();
  private readonly byNameHash = new Map<number, Member>();
  private buried: Member[] = [];

  add(m: Member): void {
    this.byName.set(m.name, m);
    this.byNameHash.set(m.hash, m);
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

  private forget(m: Member): void {
    this.byName.delete(m.name);
    this.byNameHash.delete(m.hash);
  }
}
