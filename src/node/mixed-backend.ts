/**
 * Kilo's middle way: peers in this node's location are reached over VXLAN
 * (a private network, no encryption needed, less overhead), peers in other
 * locations over WireGuard (across clouds and the internet). Each peer goes
 * to exactly one of the two backends, chosen by its location label; a peer
 * that moves location moves backend.
 *
 * Outbound, the destination picks the backend that owns its peer. Inbound,
 * each backend has its own UDP socket and the router hands each socket's
 * datagrams to its own backend (RouterOptions.inbound), so this class never
 * sees a datagram; receive() exists only to satisfy the interface.
 */
import type { Backend, PeerSpec, PeerStatus } from '../dataplane/backend.ts';
import { Received } from '../dataplane/backend.ts';
import { RouteTable } from '../route/route-table.ts';
import { IPV4_DST_OFFSET, IPV6_DST_OFFSET } from '../wire/ip.ts';
import type { PacketRing } from '../buf/packet-ring.ts';

export interface MixedPeerStatus extends PeerStatus {
  readonly backend: string;
}

export class MixedBackend implements Backend {
  readonly kind = 'mixed';
  readonly overhead: number;
  private readonly routes = new RouteTable<Backend>();
  private readonly owner = new Map<string, Backend>();

  constructor(
    private readonly ring: PacketRing,
    /** This node's location label. */
    readonly location: string,
    /** The backend for peers in the same location (VXLAN). */
    readonly near: Backend,
    /** The backend for peers elsewhere (WireGuard). */
    readonly far: Backend,
  ) {
    // One TUN MTU serves both: the larger overhead decides it.
    this.overhead = Math.max(near.overhead, far.overhead);
  }

  send(slot: number): void {
    const bytes = this.ring.bytes;
    const off = this.ring.offset[slot]!;
    const v4 = bytes[off]! >> 4 === 4;
    const b = v4 ? this.routes.lookupV4At(bytes, off + IPV4_DST_OFFSET) : this.routes.lookupV6At(bytes, off + IPV6_DST_OFFSET);
    // With no owner (or a malformed packet) the near backend drops and counts it by reason.
    (b ?? this.near).send(slot);
  }

  receive(slot: number, fromAddress: string, fromPort: number): Received {
    // Not reached: the router pairs each socket with its own backend. Deliver to the near one rather than throw.
    return this.near.receive(slot, fromAddress, fromPort);
  }

  private backendFor(spec: PeerSpec): Backend {
    return spec.location === undefined || spec.location === this.location ? this.near : this.far;
  }

  addPeer(spec: PeerSpec): void {
    const b = this.backendFor(spec);
    b.addPeer(spec);
    this.owner.set(spec.name, b);
    for (const c of spec.subnets) this.routes.insert(c, b);
  }

  updatePeer(spec: PeerSpec): void {
    const before = this.owner.get(spec.name);
    const after = this.backendFor(spec);
    if (before === undefined) return this.addPeer(spec);
    if (before !== after) {
      // Moved to another location: it becomes the other backend's peer.
      before.removePeer(spec.name);
      after.addPeer(spec);
      this.owner.set(spec.name, after);
    } else {
      after.updatePeer(spec);
    }
    this.rebuildRoutes();
  }

  removePeer(name: string): boolean {
    const b = this.owner.get(name);
    if (b === undefined) return false;
    b.removePeer(name);
    this.owner.delete(name);
    this.rebuildRoutes();
    return true;
  }

  private rebuildRoutes(): void {
    for (const b of [this.near, this.far]) this.routes.removeValue(b);
    for (const b of [this.near, this.far]) for (const p of b.peers()) for (const c of p.subnets) this.routes.insert(c, b);
  }

  peers(): MixedPeerStatus[] {
    return [...this.near.peers().map((p) => ({ ...p, backend: this.near.kind })), ...this.far.peers().map((p) => ({ ...p, backend: this.far.kind }))];
  }

  drops(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const b of [this.near, this.far]) for (const [k, v] of Object.entries(b.drops())) out[`${b.kind}_${k}`] = v;
    return out;
  }
}
