/**
 * Datagrams the kernel dropped for one of weft's sockets before weft read
 * them: a full receive buffer under a flood or a stalled event loop. They
 * never reach weft's own counters, so status and metrics read them from the
 * kernel: the `drops` column of /proc/self/net/udp and udp6 (the tables of
 * this process's network namespace), summed over the sockets bound to the
 * port. Cold path: read when status is asked for.
 */
import { readFileSync } from 'node:fs';

/** Sum the drops of every socket in one /proc/net/udp-format table whose local port is `port`. */
export function parseUdpDrops(table: string, port: number): number {
  let drops = 0;
  const lines = table.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const fields = lines[i]!.trim().split(/\s+/u);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (fields.length < 13) continue;
    const colon = fields[1]!.lastIndexOf(':');
    if (colon < 0 || Number.parseInt(fields[1]!.slice(colon + 1), 16) !== port) continue;
    const d = Number(fields[fields.length - 1]);
    if (Number.isFinite(d)) drops += d;
  }
  return drops;
}

/** Kernel receive drops for the UDP sockets bound to `port`, IPv4 and IPv6; 0 where the tables cannot be read. */
export function kernelReceiveDrops(port: number, netDir = '/proc/self/net'): number {
  let drops = 0;
  for (const table of ['udp', 'udp6']) {
    try {
      drops += parseUdpDrops(readFileSync(`${netDir}/${table}`, 'latin1'), port);
    } catch {
      // no IPv6, or no procfs: nothing to add
    }
  }
  return drops;
}
