/**
 * Address reservations for one network on this node, on disk so that they
 * outlive a restart of weft and a reboot, as the node's subnet lease does.
 *
 *   <dataDir>/<network name>/            0700
 *     10.244.1.5                         0600  "<container ID>\n<ifname>\n"
 *     fd00-10-244-1--5                   0600  the same, for an IPv6 address (dual-stack or IPv6-only node)
 *     last-reserved                      0600  the latest IPv4 address handed out
 *     last-reserved6                     0600  the latest IPv6 address handed out
 *
 * One file per address, created with O_CREAT|O_EXCL ('wx'): the kernel lets
 * exactly one process create a name, so two ADDs running at once can never
 * take the same address, and no lock has to be broken after a crash (Node
 * has no flock; a lock file left by a killed plugin would need guessing
 * whether its owner lives). A reservation whose ADD failed midway is
 * removed by that ADD; one left by a killed plugin is found by GC, whose
 * list of valid attachments will not name it.
 *
 * Addresses are handed out round-robin after `last-reserved`, so an address
 * just released is the last to be reused (a peer's ARP cache or a stale
 * connection will not meet a new container at once).
 *
 * An IPv6 address is named by its RFC 5952 text with each ":" written "-"
 * (fd00:10:244:1::5 is fd00-10-244-1--5): a colon is legal on Linux but not
 * on every filesystem or tool a data directory meets (tar to FAT, scp's
 * host:path, PATH-like lists), and the canonical form gives each address
 * exactly one name, so O_EXCL still decides. The families are kept apart:
 * an attachment on a dual-stack node holds one file of each.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseIpv4 as ipv4Value } from '../bytes/ipv4.ts';
import { formatIpv4, parseIpv6 } from '../wire/addr.ts';
import type { Attachment } from './net-config.ts';
import { CniError, ErrorCode } from './spec.ts';
import { cidr6Text, cidrText, formatIpv6Value, ipv6Value } from './subnet-env.ts';
import type { NodeNetwork4, NodeNetwork6 } from './subnet-env.ts';

const LAST = 'last-reserved';
const LAST6 = 'last-reserved6';

export interface Reservation {
  address: number;
  attachment: Attachment;
}

export interface Reservation6 {
  address: bigint;
  attachment: Attachment;
}

/** The file name of an IPv6 address: its canonical text, ":" as "-". */
export function ipv6FileName(address: bigint): string {
  return formatIpv6Value(address).replaceAll(':', '-');
}

/** The IPv6 address a file name stands for; undefined for any other name (only the canonical spelling counts). */
function ipv6OfFileName(name: string): bigint | undefined {
  if (!name.includes('-')) return undefined;
  let address: bigint;
  try {
    address = ipv6Value(parseIpv6(name.replaceAll('-', ':')));
  } catch {
    return undefined;
  }
  return ipv6FileName(address) === name ? address : undefined;
}

export class AddressStore {
  readonly dir: string;

  constructor(dataDir: string, network: string) {
    this.dir = join(dataDir, network);
  }

  private names(): string[] {
    try {
      return readdirSync(this.dir);
    } catch {
      return []; // no directory yet: nothing reserved
    }
  }

  /** Every IPv4 reservation on disk, in address order. Files that are not reservations are ignored. */
  list(): Reservation[] {
    const out: Reservation[] = [];
    for (const name of this.names()) {
      const address = ipv4Value(name);
      if (address < 0) continue;
      const attachment = this.read(name);
      if (attachment !== undefined) out.push({ address: address >>> 0, attachment });
    }
    return out.sort((a, b) => a.address - b.address);
  }

  /** Every IPv6 reservation on disk, in address order. */
  list6(): Reservation6[] {
    const out: Reservation6[] = [];
    for (const name of this.names()) {
      const address = ipv6OfFileName(name);
      if (address === undefined) continue;
      const attachment = this.read(name);
      if (attachment !== undefined) out.push({ address, attachment });
    }
    return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  private read(name: string): Attachment | undefined {
    try {
      const [containerId, ifname] = readFileSync(join(this.dir, name), 'utf8').split('\n');
      return containerId && ifname ? { containerId, ifname } : undefined;
    } catch {
      return undefined; // released meanwhile
    }
  }

  /** The IPv4 address this attachment holds, if any. */
  find(a: Attachment): number | undefined {
    return this.list().find((r) => same(r.attachment, a))?.address;
  }

  /** The IPv6 address this attachment holds, if any. */
  find6(a: Attachment): bigint | undefined {
    return this.list6().find((r) => same(r.attachment, a))?.address;
  }

  /**
   * Reserve a free address of the node's subnet for `a`: not the network,
   * broadcast or gateway address. Error 100 if `a` holds one already (ADD
   * twice), 101 if none is free.
   */
  reserve(net: NodeNetwork4, a: Attachment): number {
    const held = this.find(a);
    if (held !== undefined) {
      throw new CniError(
        ErrorCode.ALREADY_ATTACHED,
        `container ${a.containerId} already has ${a.ifname} on this network`,
        `it holds ${formatIpv4(held)}; a runtime calls DEL before adding the same container and interface again`,
      );
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const first = (net.subnet.network + 1) >>> 0;
    const size = 2 ** (32 - net.subnet.bits) - 2; // without network and broadcast
    const last = this.lastReserved();
    const start = last >= first && last < first + size ? last - first + 1 : 0;
    for (let k = 0; k < size; k++) {
      const address = (first + ((start + k) % size)) >>> 0;
      if (address === net.gateway) continue;
      if (this.tryCreate(formatIpv4(address), a)) {
        this.remember(LAST, formatIpv4(address));
        return address;
      }
    }
    throw new CniError(
      ErrorCode.ADDRESSES_EXHAUSTED,
      `no free address in ${cidrText(net.subnet)}`,
      `all ${size - 1} pod addresses of this node are reserved (in ${this.dir}); remove containers, or let the runtime garbage-collect (CNI GC) those it no longer knows`,
    );
  }

  /**
   * Reserve a free address of the node's IPv6 subnet for `a`, beside its
   * IPv4 one (or alone, on an IPv6-only node): not the subnet's network address (the subnet-router anycast
   * address, RFC 4291 2.6.1) nor the gateway; IPv6 has no broadcast. Error
   * 100 if `a` holds one already, 101 if none is free. A /64 is never walked
   * to its end: the walk stops at the first name nobody holds.
   */
  reserve6(net: NodeNetwork6, a: Attachment): bigint {
    const held = this.find6(a);
    if (held !== undefined) {
      throw new CniError(
        ErrorCode.ALREADY_ATTACHED,
        `container ${a.containerId} already has ${a.ifname} on this network`,
        `it holds ${formatIpv6Value(held)}; a runtime calls DEL before adding the same container and interface again`,
      );
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const first = net.subnet.network + 1n;
    const size = (1n << BigInt(128 - net.subnet.bits)) - 1n; // without the network address
    const last = this.lastReserved6();
    const start = last !== undefined && last >= first && last < first + size ? last - first + 1n : 0n;
    for (let k = 0n; k < size; k++) {
      const address = first + ((start + k) % size);
      if (address === net.gateway) continue;
      if (this.tryCreate(ipv6FileName(address), a)) {
        this.remember(LAST6, formatIpv6Value(address));
        return address;
      }
    }
    throw new CniError(
      ErrorCode.ADDRESSES_EXHAUSTED,
      `no free address in ${cidr6Text(net.subnet)}`,
      `all ${size - 1n} IPv6 pod addresses of this node are reserved (in ${this.dir}); remove containers, or let the runtime garbage-collect (CNI GC) those it no longer knows`,
    );
  }

  /** Note the latest address handed out (a hint for the next ADD: written whole, then renamed over the old one). */
  private remember(file: string, text: string): void {
    const temp = join(this.dir, `${file}.${process.pid}`);
    writeFileSync(temp, `${text}\n`, { mode: 0o600 });
    renameSync(temp, join(this.dir, file));
  }

  private lastReserved6(): bigint | undefined {
    try {
      return ipv6Value(parseIpv6(readFileSync(join(this.dir, LAST6), 'utf8').trim()));
    } catch {
      return undefined;
    }
  }

  private lastReserved(): number {
    try {
      return ipv4Value(readFileSync(join(this.dir, LAST), 'utf8').trim()) >>> 0;
    } catch {
      return 0;
    }
  }

  /** Create the address's file exclusively; false if another attachment holds it. */
  private tryCreate(name: string, a: Attachment): boolean {
    let fd: number;
    try {
      fd = openSync(join(this.dir, name), 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new CniError(ErrorCode.IO_FAILURE, `cannot reserve an address in ${this.dir}`, (err as Error).message);
    }
    try {
      writeSync(fd, `${a.containerId}\n${a.ifname}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  /** Release what `a` holds, in both families; releasing nothing is fine (DEL is idempotent). Returns the addresses released, as text. */
  release(a: Attachment): string[] {
    return this.removeWhere((att) => same(att, a));
  }

  /** GC: release every reservation, of either family, whose attachment is not in `valid`. */
  collect(valid: readonly Attachment[]): string[] {
    return this.removeWhere((att) => !valid.some((v) => same(v, att)));
  }

  /** Every attachment holding an address of either family, each once. */
  attachments(): Attachment[] {
    const out: Attachment[] = [];
    for (const r of [...this.list(), ...this.list6()]) if (!out.some((o) => same(o, r.attachment))) out.push(r.attachment);
    return out;
  }

  private removeWhere(match: (a: Attachment) => boolean): string[] {
    const held = [
      ...this.list().map((r) => ({ name: formatIpv4(r.address), text: formatIpv4(r.address), attachment: r.attachment })),
      ...this.list6().map((r) => ({ name: ipv6FileName(r.address), text: formatIpv6Value(r.address), attachment: r.attachment })),
    ];
    const released: string[] = [];
    for (const r of held) {
      if (!match(r.attachment)) continue;
      try {
        unlinkSync(join(this.dir, r.name));
        released.push(r.text);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CniError(ErrorCode.IO_FAILURE, `cannot release ${r.text} in ${this.dir}`, (err as Error).message);
      }
    }
    return released;
  }
}

function same(a: Attachment, b: Attachment): boolean {
  return a.containerId === b.containerId && a.ifname === b.ifname;
}

