import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { Member, MemberState } from '../../../src/gossip/member.ts';
import type { NodeRecord, RecordFields } from '../../../src/gossip/record.ts';
import type { MembershipView } from '../../../src/ipam/allocator.ts';
import { parseCidr } from '../../../src/wire/addr.ts';

/** A record holding `subnet` (or none), claimed at `claimedAt`; `over` adds fields such as a second family's subnet. */
export function rec(name: string, subnet: string | null, claimedAt: number, flags = 0, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    name, incarnation: 1, flags, signingKey: new Uint8Array(32), wgPublicKey: null, address: '192.0.2.1', gossipPort: 7946,
    dataPort: 8472, vtepMac: new Uint8Array(6), vtepIp: '0.0.0.0', subnetClaimedAt: claimedAt, location: '',
    subnets: subnet === null ? [] : [parseCidr(subnet)],
    ...over,
  };
}

/** The membership as the allocator sees it: our record, and others added by the test. */
export class FakeView implements MembershipView {
  record: NodeRecord;
  others: Member[] = [];
  constructor(readonly name: string) {
    this.record = rec(name, null, 0);
  }
  all(): Member[] {
    return [new Member(this.record, new Uint8Array(0), 0, 0), ...this.others];
  }
  updateSelf(p: Partial<RecordFields>): void {
    this.record = { ...this.record, ...p, incarnation: this.record.incarnation + 1 };
  }
  add(r: NodeRecord, state: MemberState = MemberState.Alive, since = 0): Member {
    const m = new Member(r, new Uint8Array(0), 0, since);
    m.state = state;
    this.others.push(m);
    return m;
  }
}


/** A fresh temporary directory, removed after each test of the file that calls this at its top. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}
