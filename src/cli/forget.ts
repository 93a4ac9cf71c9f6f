/**
 * `weft forget NODE`: a node reinstalled with a new key rejoins at once,
 * instead of waiting out the ten-minute tombstone its former self left.
 *
 * The running node does the work (the control socket's "forget" command):
 * gossip ends the tombstone here and spreads a forget fact signed by this
 * node, which every node holding that tombstone takes (src/gossip/forget.ts
 * says what it does and what it cannot be used for); then any data plane
 * peer of that name still here goes, with its routes. Refused, with what to
 * do, for a name this node holds nothing of, for itself, and for a node
 * alive or only suspected here.
 */
import type { PeerControl } from '../dataplane/peer.ts';

/** What Membership.forget answers. */
export type ForgetOutcome = 'forgotten' | 'unknown' | 'self' | 'alive' | 'suspect' | 'full';

export interface ForgetTarget {
  forget(name: string): ForgetOutcome;
}

/** The control socket's "forget" handler: {"cmd":"forget","name":"node-b"} -> {"forgotten":"node-b"}. */
export function forgetHandler(
  membership: ForgetTarget | undefined,
  dataplane: PeerControl,
  /** Names of the config's static peers: theirs are not gossip's to drop. */
  staticPeers: () => readonly string[],
  routesChanged: () => void,
): (request?: Record<string, unknown>) => unknown {
  return (request) => {
    if (membership === undefined) throw new Error('this node runs without gossip: there is no tombstone to forget (its peers come from its config)');
    const name = request?.name;
    if (typeof name !== 'string' || name.length === 0) throw new Error('forget needs the name of a node, such as {"cmd":"forget","name":"node-b"}');
    const outcome = membership.forget(name);
    if (outcome !== 'forgotten') throw new Error(refusal(name, outcome));
    if (dataplane.hasPeer(name) && !staticPeers().includes(name)) {
      dataplane.removePeer(name);
      routesChanged();
    }
    return { forgotten: name };
  };
}

function refusal(name: string, outcome: Exclude<ForgetOutcome, 'forgotten'>): string {
  switch (outcome) {
    case 'unknown':
      return `no node named "${name}" is known here, alive or dead: check the name (the node's log names every peer added and removed)`;
    case 'self':
      return `"${name}" is this node; run weft forget on another node`;
    case 'alive':
      return `${name} is alive: forget only ends the tombstone of a dead or departed node; stop ${name} first (it is declared dead within seconds), then forget it`;
    case 'suspect':
      return `${name} is suspected but not yet declared dead: wait a few seconds and run weft forget again`;
    case 'full':
      return `64 forgets are in force here already (each lasts the tombstone time, 10 minutes): wait, or let ${name}'s tombstone expire`;
  }
}
