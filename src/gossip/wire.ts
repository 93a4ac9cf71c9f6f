/**
 * Membership's datagrams, apart from what they say: every message it sends
 * is stamped, sealed (with the key the endpoint speaks during a key
 * rotation: seal-keys.ts) and counted here, and every datagram it receives
 * is opened and admitted here (admission.ts: recipient, replay, rate,
 * de-duplication) before membership reads it. A reply to a source that no
 * member vouches for must fit that source's budget. Membership keeps the
 * protocol (membership.ts); this keeps the bytes, and like it never throws
 * on wire input: a datagram refused is a counted drop reason.
 */
import { nameHash } from './anti-entropy.ts';
import type { Admission } from './admission.ts';
import { ANY_RECIPIENT, MsgType, decodeMessage, encodeMessage } from './codec.ts';
import type { Message } from './codec.ts';
import type { Keyring } from './keyring.ts';
import type { DropReason } from './member.ts';
import { EVERY_KEY, SealKeys } from './seal-keys.ts';
import type { GossipTransport } from './transport.ts';

export interface WireHost {
  readonly keyring: Keyring;
  readonly transport: GossipTransport;
  readonly admission: Admission;
  /** Datagrams and bytes each way: the figures the benches and status report. */
  readonly stats: { sent: number; sentBytes: number; received: number; receivedBytes: number };
  drop(reason: DropReason): void;
  /** Wall clock, ms since the epoch: the stamp's sent-at. */
  wall(): number;
}

export class MembershipWire {
  /** Which cluster key each endpoint speaks, during a key rotation (seal-keys.ts). */
  private readonly sealKeys: SealKeys;

  constructor(private readonly host: WireHost) {
    this.sealKeys = new SealKeys(host.keyring);
  }

  /** The message in a received datagram, or null when it does not open or is not admitted (counted). */
  open(bytes: Uint8Array, address: string, port: number): Message | null {
    const host = this.host;
    host.stats.received++;
    host.stats.receivedBytes += bytes.length;
    const v = decodeMessage(bytes, host.keyring);
    if (!v.ok) {
      host.drop(v.reason);
      return null;
    }
    const refused = host.admission.admit(v, bytes.length, address, port);
    if (refused !== null) {
      host.drop(refused);
      return null;
    }
    this.sealKeys.heard(address, port);
    return v.msg;
  }

  /**
   * Seal and send to the node named `to` (null: whoever is at the address, a seed). A `reply`
   * answers a received datagram: to an unverified source it must fit that source's budget.
   */
  send(address: string, port: number, msg: Message, to: string | null, reply = false): void {
    const host = this.host;
    const stamp = { sentAt: host.wall(), to: to === null ? ANY_RECIPIENT : nameHash(to) };
    // During a key rotation: the key this endpoint speaks (seal-keys.ts).
    const key = this.sealKeys.keyFor(address, port, to === null, msg.type === MsgType.SyncDigest && !msg.reply);
    for (let i = 1; key === EVERY_KEY && i < host.keyring.size; i++) {
      const copy = encodeMessage(msg, host.keyring, stamp, i);
      host.stats.sent++;
      host.stats.sentBytes += copy.length;
      host.transport.send(address, port, copy);
    }
    const bytes = encodeMessage(msg, host.keyring, stamp, key === EVERY_KEY ? 0 : key);
    if (reply && !host.admission.mayReply(address, port, to, bytes.length)) return host.drop('reply-budget');
    host.stats.sent++;
    host.stats.sentBytes += bytes.length;
    host.transport.send(address, port, bytes);
  }
}
