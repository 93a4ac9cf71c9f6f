/**
 * The node's peers, once: by name, by public key, by underlay address (for
 * encapsulations that know senders that way), and by subnet in the one
 * route table every outbound packet is looked up in. Adding, changing and
 * removing a peer is checked here, the same for every encapsulation; what
 * only one encapsulation can check (a VTEP MAC, a key's length) it checks
 * when it makes the peer.
 *
 * Which encapsulation reaches a peer is a rule (`choose`), not a class: one
 * for the whole node, or, under "mixed", VXLAN for peers in this node's
 * location and WireGuard for the others. A peer whose rule's answer changes
 * (it moved location) is made anew by the other encapsulation.
 */
import { WeftError } from '../errors.ts';
import { RouteTable } from '../route/route-table.ts';
import { formatCidr } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';
import type { Encapsulation, PeerDirectory } from './encapsulation.ts';
import type { Peer, PeerSpec, PeerStatus } from './peer.ts';

export function keyHex(key: Uint8Array): string {
  return Buffer.from(key).toString('hex');
}

function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.bits === b.bits && a.addr.every((x, i) => x === b.addr[i]);
}

export class PeerTable implements PeerDirectory {
  /** Subnet -> peer: outbound routes, and the inner sources each peer may send. */
  readonly routes = new RouteTable<Peer>();
  private readonly byName = new Map<string, Peer>();
  private readonly addresses = new Map<string, Peer>();
  private readonly keys = new Map<string, Peer>();

  constructor(
    /** The encapsulation that reaches the peer this spec describes. */
    private readonly choose: (spec: PeerSpec) => Encapsulation,
  ) {}

  get size(): number {
    return this.byName.size;
  }

  get(name: string): Peer | undefined {
    return this.byName.get(name);
  }

  byAddress(address: string): Peer | undefined {
    return this.addresses.get(address);
  }

  byKey(hex: string): Peer | undefined {
    return this.keys.get(hex);
  }

  all(): IterableIterator<Peer> {
    return this.byName.values();
  }

  add(spec: PeerSpec): void {
    if (this.byName.has(spec.name)) throw new WeftError('PEER_EXISTS', `peer "${spec.name}" is already configured; update it instead`);
    const encapsulation = this.choose(spec);
    this.checkFree(spec, encapsulation);
    this.index(encapsulation.createPeer(spec));
  }

  update(spec: PeerSpec): void {
    const before = this.byName.get(spec.name);
    if (before === undefined) throw new WeftError('PEER_UNKNOWN', `peer "${spec.name}" is not configured; add it first`);
    const encapsulation = this.choose(spec);
    this.checkFree(spec, encapsulation);
    const was = before.encapsulation;
    // The indexes are keyed by what the peer was; drop them before it changes
    // (its name stays, so the peer keeps its place in the listing).
    this.unindex(before, true);
    let after: Peer;
    try {
      if (was === encapsulation) after = encapsulation.updatePeer(before, spec);
      else {
        // Moved to another location: the other encapsulation makes it anew.
        after = encapsulation.createPeer(spec);
        was.removePeer(before);
      }
    } catch (err) {
      this.index(before);
      throw err;
    }
    this.index(after);
  }

  remove(name: string): boolean {
    const peer = this.byName.get(name);
    if (peer === undefined) return false;
    this.unindex(peer);
    peer.encapsulation.removePeer(peer);
    return true;
  }

  peers(): PeerStatus[] {
    return [...this.byName.values()].map((p) => p.status());
  }

  /** Nothing another peer owns: its name's subnets, its address (where it names the sender), its key. */
  private checkFree(spec: PeerSpec, encapsulation: Encapsulation): void {
    const name = spec.name;
    if (encapsulation.sendersByAddress && spec.endpoint !== undefined) {
      const other = this.addresses.get(spec.endpoint.address);
      if (other !== undefined && other.name !== name) {
        throw new WeftError('CONFIG_INVALID', `peer "${name}": underlay address ${spec.endpoint.address} already belongs to peer "${other.name}"`);
      }
    }
    if (spec.publicKey !== undefined) {
      const other = this.keys.get(keyHex(spec.publicKey));
      if (other !== undefined && other.name !== name) throw new WeftError('CONFIG_INVALID', `peer "${name}": its public key already belongs to peer "${other.name}"`);
    }
    for (const cidr of spec.subnets) {
      for (const other of this.byName.values()) {
        if (other.name !== name && other.subnets.some((s) => sameCidr(s, cidr))) {
          throw new WeftError('CONFIG_INVALID', `peer "${name}": subnet ${formatCidr(cidr)} is already owned by peer "${other.name}"`);
        }
      }
    }
  }

  private index(peer: Peer): void {
    this.byName.set(peer.name, peer);
    if (peer.encapsulation.sendersByAddress && peer.endpoint !== undefined) this.addresses.set(peer.endpoint.address, peer);
    if (peer.publicKey !== undefined) this.keys.set(keyHex(peer.publicKey), peer);
    for (const cidr of peer.subnets) this.routes.insert(cidr, peer);
  }

  private unindex(peer: Peer, keepName = false): void {
    this.routes.removeValue(peer);
    if (peer.endpoint !== undefined && this.addresses.get(peer.endpoint.address) === peer) this.addresses.delete(peer.endpoint.address);
    if (peer.publicKey !== undefined && this.keys.get(keyHex(peer.publicKey)) === peer) this.keys.delete(keyHex(peer.publicKey));
    if (!keepName) this.byName.delete(peer.name);
  }
}
