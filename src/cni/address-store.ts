/**
 * Address reservations for one network on this node, on disk so that they
 * outlive a restart of weft and a reboot, as the node's subnet lease does.
 *
 *   <dataDir>/<network name>/            0700
 *     10.244.1.5                         0600  "<container ID>\n<ifname>\n"
 *     last-reserved                      0600  the latest address handed out
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
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseIpv4 as ipv4Value } from '../bytes/ipv4.ts';
import { formatIpv4 } from '../wire/addr.ts';
import type { Attachment } from './net-config.ts';
import { CniError, ErrorCode } from './spec.ts';
import { cidrText } from './subnet-env.ts';
import type { NodeNetwork } from './subnet-env.ts';

const LAST = 'last-reserved';

export interface Reservation {
  address: number;
  attachment: Attachment;
}

export class AddressStore {
  readonly dir: string;

  constructor(dataDir: string, network: string) {
    this.dir = join(dataDir, network);
  }

  /** Every reservation on disk, in address order. Files that are not reservations are ignored. */
  list(): Reservation[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return []; // no directory yet: nothing reserved
    }
    const out: Reservation[] = [];
    for (const name of names) {
      const address = ipv4Value(name);
      if (address < 0) continue;
      const attachment = this.read(name);
      if (attachment !== undefined) out.push({ address: address >>> 0, attachment });
    }
    return out.sort((a, b) => a.address - b.address);
  }

  private read(name: string): Attachment | undefined {
    try {
      const [containerId, ifname] = readFileSync(join(this.dir, name), 'utf8').split('\n');
      return containerId && ifname ? { containerId, ifname } : undefined;
    } catch {
      return undefined; // released meanwhile
    }
  }

  /** The address this attachment holds, if any. */
  find(a: Attachment): number | undefined {
    return this.list().find((r) => same(r.attachment, a))?.address;
  }

  /**
   * Reserve a free address of the node's subnet for `a`: not the network,
   * broadcast or gateway address. Error 100 if `a` holds one already (ADD
   * twice), 101 if none is free.
   */
  reserve(net: NodeNetwork, a: Attachment): number {
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
      if (this.tryCreate(address, a)) {
        this.remember(address);
        return address;
      }
    }
    throw new CniError(
      ErrorCode.ADDRESSES_EXHAUSTED,
      `no free address in ${cidrText(net.subnet)}`,
      `all ${size - 1} pod addresses of this node are reserved (in ${this.dir}); remove containers, or let the runtime garbage-collect (CNI GC) those it no longer knows`,
    );
  }

  /** Note the latest address handed out (a hint for the next ADD: written whole, then renamed over the old one). */
  private remember(address: number): void {
    const temp = join(this.dir, `${LAST}.${process.pid}`);
    writeFileSync(temp, `${formatIpv4(address)}\n`, { mode: 0o600 });
    renameSync(temp, join(this.dir, LAST));
  }

  private lastReserved(): number {
    try {
      return ipv4Value(readFileSync(join(this.dir, LAST), 'utf8').trim()) >>> 0;
    } catch {
      return 0;
    }
  }

  /** Create the address's file exclusively; false if another attachment holds it. */
  private tryCreate(address: number, a: Attachment): boolean {
    let fd: number;
    try {
      fd = openSync(join(this.dir, formatIpv4(address)), 'wx', 0o600);
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

  /** Release what `a` holds; releasing nothing is fine (DEL is idempotent). Returns what was released. */
  release(a: Attachment): number[] {
    return this.removeWhere((att) => same(att, a));
  }

  /** GC: release every reservation whose attachment is not in `valid`. */
  collect(valid: readonly Attachment[]): number[] {
    return this.removeWhere((att) => !valid.some((v) => same(v, att)));
  }

  private removeWhere(match: (a: Attachment) => boolean): number[] {
    const released: number[] = [];
    for (const r of this.list()) {
      if (!match(r.attachment)) continue;
      try {
        unlinkSync(join(this.dir, formatIpv4(r.address)));
        released.push(r.address);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CniError(ErrorCode.IO_FAILURE, `cannot release ${formatIpv4(r.address)} in ${this.dir}`, (err as Error).message);
      }
    }
    return released;
  }
}

function same(a: Attachment, b: Attachment): boolean {
  return a.containerId === b.containerId && a.ifname === b.ifname;
}

