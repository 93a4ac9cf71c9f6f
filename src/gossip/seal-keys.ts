/**
 * Which cluster key seals a datagram to one endpoint while a key rotation
 * is under way (a keyring of more than one key: `gossip.oldKeys`).
 *
 * A rotation is a rolling restart: each node in turn restarts with the new
 * key K2 as primary and the old K1 still accepted, then each in turn with
 * K2 alone. Sealing everything with the primary splits the cluster at the
 * first step: the nodes still on K1 alone cannot open K2. So a node seals
 * to each endpoint with the key that endpoint last sealed to it with, when
 * that was one of its older keys: a node that speaks K1 to us can read K1.
 * Endpoints heard with the primary, and those never heard, get the primary.
 *
 * Two exceptions. An unaddressed message (a joiner's announcement or pull
 * to a seed whose name and keys it does not know yet) to an endpoint never
 * heard from goes out once per key, the older ones first and the primary
 * last (a seed holding both then last hears the primary): a node restarted on K2
 * must reach seeds still on K1 alone, or it never rejoins (a graceful
 * leave told them it was gone, so they do not talk to it first). And the
 * anti-entropy digests a node starts go under the primary whatever it heard:
 * two nodes that both hold K2 by now, but last heard each other in K1,
 * would otherwise keep speaking K1 until one of them drops it; a digest in
 * K2 opened with the primary moves both to K2, and one lost to a node still
 * on K1 alone costs one sync round. Replies keep the endpoint's key.
 *
 * Only datagrams that passed admission (replay, recipient, rate) teach an
 * endpoint's key, so a replayed datagram cannot move it. With one key in
 * the ring nothing is recorded. At most 4,096 endpoints are remembered; the
 * oldest is forgotten first and gets the primary again.
 */
import type { Keyring } from './keyring.ts';

/** Seal under every key of the ring, primary first. */
export const EVERY_KEY = -1;

export class SealKeys {
  /** Endpoint -> the ring index of the key it last sealed with. */
  private readonly heardWith = new Map<string, number>();

  constructor(
    private readonly keyring: Keyring,
    private readonly max = 4096,
  ) {}

  /** A datagram from address:port passed admission; the ring says which key opened it. */
  heard(address: string, port: number): void {
    if (this.keyring.size === 1) return;
    const e = `${address}:${port}`;
    this.heardWith.delete(e);
    if (this.heardWith.size >= this.max) this.heardWith.delete(this.heardWith.keys().next().value!);
    this.heardWith.set(e, this.keyring.lastOpened);
  }

  /**
   * The ring index to seal with toward address:port (0: the primary), or EVERY_KEY. `unaddressed`:
   * a message to whoever is at a seed's address (a joiner's pull keeps the seed's key: it must
   * land); `digest`: an anti-entropy exchange we start with a member.
   */
  keyFor(address: string, port: number, unaddressed: boolean, digest: boolean): number {
    if (this.keyring.size === 1) return 0;
    const k = this.heardWith.get(`${address}:${port}`);
    if (k === undefined) return unaddressed ? EVERY_KEY : 0;
    return digest && !unaddressed ? 0 : k;
  }
}
