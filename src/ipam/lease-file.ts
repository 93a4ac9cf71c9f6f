/**
 * The node's subnet lease, kept in the state directory so that a restarted
 * node asks for the subnet it had (its pods' addresses stay valid) with its
 * original claim time (so it keeps its seniority in conflicts). Written
 * atomically: a crash mid-write leaves the old lease, never half a file.
 *
 * One file per family: the IPv4 lease keeps its name and format, so a lease
 * written before dual-stack loads unchanged and an IPv4-only node writes the
 * same file it always did; the IPv6 lease sits beside it in the same format.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../gossip/identity.ts';
import { formatCidr, parseCidr } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';

export const LEASE_FILE = 'subnet-lease.json';
export const LEASE_FILE_V6 = 'subnet6-lease.json';

export interface Lease {
  readonly cluster: Cidr;
  readonly subnet: Cidr;
  /** Wall-clock ms when the subnet was first claimed. */
  readonly claimedAt: number;
}

export function leasePath(stateDir: string, family: 4 | 6 = 4): string {
  return join(stateDir, family === 4 ? LEASE_FILE : LEASE_FILE_V6);
}

/**
 * The lease, or null when there is none or it cannot be used (unreadable,
 * not JSON, wrong shape): a bad lease costs a fresh subnet, not a crash.
 */
export function readLease(path: string): Lease | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const j = JSON.parse(text) as { version?: unknown; cluster?: unknown; subnet?: unknown; claimedAt?: unknown };
    if (j.version !== 1 || typeof j.cluster !== 'string' || typeof j.subnet !== 'string' || typeof j.claimedAt !== 'number') return null;
    if (!Number.isFinite(j.claimedAt)) return null;
    const lease = { cluster: parseCidr(j.cluster), subnet: parseCidr(j.subnet), claimedAt: j.claimedAt };
    // A lease whose subnet is of the other family than its cluster was not written by weft.
    return lease.cluster.family === lease.subnet.family ? lease : null;
  } catch {
    return null;
  }
}

export function writeLease(path: string, lease: Lease): void {
  const text = JSON.stringify({ version: 1, cluster: formatCidr(lease.cluster), subnet: formatCidr(lease.subnet), claimedAt: lease.claimedAt }, null, 2);
  writeFileAtomic(path, text + '\n', 0o644);
}
