/**
 * A data plane over one encapsulation, as unit tests and benches drive it:
 * the Dataplane itself (send, receive, peers, drops) with its encapsulation
 * beside it for the protocol's own knobs (ARP replies, WireGuard's tick).
 */
import { Dataplane } from '../../src/dataplane/dataplane.ts';
import { VxlanEncapsulation } from '../../src/vxlan/vxlan-encapsulation.ts';
import type { VxlanOptions } from '../../src/vxlan/vxlan-encapsulation.ts';
import { WireguardEncapsulation } from '../../src/wireguard/wireguard-encapsulation.ts';
import type { WireguardOptions } from '../../src/wireguard/wireguard-encapsulation.ts';

export type VxlanDataplane = Dataplane & { readonly vxlan: VxlanEncapsulation };
export type WireguardDataplane = Dataplane & { readonly wireguard: WireguardEncapsulation };

export function vxlanDataplane(options: VxlanOptions): VxlanDataplane {
  const vxlan = new VxlanEncapsulation(options);
  return Object.assign(new Dataplane({ ring: options.ring, encapsulations: [vxlan] }), { vxlan });
}

export function wireguardDataplane(options: WireguardOptions): WireguardDataplane {
  const wireguard = new WireguardEncapsulation(options);
  return Object.assign(new Dataplane({ ring: options.ring, encapsulations: [wireguard] }), { wireguard });
}
