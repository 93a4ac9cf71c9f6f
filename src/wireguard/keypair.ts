/**
 * A keypair: the symmetric session keys one handshake produced (whitepaper
 * 5.4.5), the two indices that name it on the wire, the send counter and the
 * receive replay window. Created by the handshake, retired by the timers.
 */
import { wipe } from '../crypto/keys.ts';
import { ReplayWindow } from './replay.ts';

export class Keypair {
  /** The next counter to send with; each message uses one. */
  sendCounter = 0;
  readonly replay = new ReplayWindow();

  constructor(
    readonly sendKey: Uint8Array,
    readonly receiveKey: Uint8Array,
    /** Our index: peers put it in the receiver field of what they send us. */
    readonly localIndex: number,
    /** Their index: we put it in the receiver field of what we send. */
    readonly remoteIndex: number,
    /** True when we sent the initiation that made it (only initiators rekey on age). */
    readonly initiator: boolean,
    /** When it was made, in the backend's clock (ms). */
    readonly createdMs: number,
  ) {}

  /** Zero the key material; the keypair must not be used afterwards. */
  destroy(): void {
    wipe(this.sendKey);
    wipe(this.receiveKey);
  }
}
