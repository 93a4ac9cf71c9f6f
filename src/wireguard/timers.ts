/**
 * WireGuard's timers (whitepaper section 6) as pure decisions over one
 * peer's timestamps. The backend runs one coarse tick over all peers and
 * asks `dueActions` what to do; nothing here keeps a timer of its own, so a
 * thousand peers cost one interval, and the rules are testable with numbers.
 *
 * All times are milliseconds on the backend's monotonic clock; `scale`
 * shortens every protocol constant (tests use it; production uses 1).
 */
import {
  KEEPALIVE_TIMEOUT,
  REJECT_AFTER_TIME,
  REKEY_AFTER_TIME,
  REKEY_ATTEMPT_TIME,
  REKEY_TIMEOUT,
} from './constants.ts';

export interface PeerClock {
  /** When the current keypair was made, and whether we initiated it; -1 when there is none. */
  keypairCreatedMs: number;
  keypairInitiator: boolean;
  /** A handshake we initiated is waiting for its response. */
  handshakeInFlight: boolean;
  /** When the first initiation of the current attempt went out, and the latest one. */
  attemptStartedMs: number;
  lastInitiationMs: number;
  /** The jitter drawn for the current retry, up to REKEY_TIMEOUT_JITTER_MAX. */
  retryJitterMs: number;
  /** Last authenticated data (not keepalive) received, last anything sent, last data sent. */
  lastDataReceivedMs: number;
  lastSentMs: number;
  lastDataSentMs: number;
  /** Last authenticated message of any kind received (data, keepalive, handshake). */
  lastReceivedMs: number;
  /**
   * When data first went out with nothing authenticated heard since; -1 when
   * nothing is unanswered. Later sends do not move it: the protocol's "sent
   * data, heard nothing" clock starts at the first unanswered send, so steady
   * traffic toward a peer that restarted cannot postpone the new handshake.
   */
  unansweredSinceMs: number;
  /** A handshake is wanted before any traffic asks for one (start-up, persistent keepalive). */
  handshakeWanted: boolean;
  /** Persistent keepalive interval in ms; 0 is off. */
  persistentKeepaliveMs: number;
  /** Packets are waiting for a keypair. */
  hasStaged: boolean;
}

export interface DueActions {
  /** Send (or resend) a handshake initiation. */
  initiate: boolean;
  /** Stop retrying: REKEY_ATTEMPT_TIME passed without a response; drop what is staged. */
  giveUp: boolean;
  /** Send a keepalive (an empty transport message). */
  keepalive: boolean;
  /** The current keypair is past REJECT_AFTER_TIME: stop using it. */
  expireKeypair: boolean;
  /** All keys are past 3 * REJECT_AFTER_TIME: zero them. */
  wipeKeys: boolean;
}

export function scaled(ms: number, scale: number): number {
  return ms * scale;
}

/** What the tick must do for this peer at `now`. */
export function dueActions(p: PeerClock, now: number, scale = 1): DueActions {
  const rekeyTimeout = scaled(REKEY_TIMEOUT, scale);
  const keepalive = scaled(KEEPALIVE_TIMEOUT, scale);
  const out: DueActions = { initiate: false, giveUp: false, keepalive: false, expireKeypair: false, wipeKeys: false };
  const hasKeypair = p.keypairCreatedMs >= 0;
  const age = hasKeypair ? now - p.keypairCreatedMs : 0;

  if (p.handshakeInFlight) {
    // Retransmit after REKEY_TIMEOUT plus jitter, until REKEY_ATTEMPT_TIME has passed.
    if (now - p.attemptStartedMs >= scaled(REKEY_ATTEMPT_TIME, scale)) out.giveUp = true;
    else if (now - p.lastInitiationMs >= rekeyTimeout + p.retryJitterMs * scale) out.initiate = true;
  } else {
    // The initiator of a keypair rekeys it when it grows old (the responder waits, so both do not race).
    // (>=: on the coarse packet clock, data sent in the tick that made the keypair has the same time.)
    if (hasKeypair && p.keypairInitiator && age >= scaled(REKEY_AFTER_TIME, scale) && p.lastDataSentMs > 0 && p.lastDataSentMs >= p.keypairCreatedMs) out.initiate = true;
    // ... and the initiator receiving on a keypair near REJECT_AFTER_TIME rekeys before it expires,
    // so one-way traffic toward the initiator is not cut when the keypair does.
    if (hasKeypair && p.keypairInitiator && age >= scaled(REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT, scale) && p.lastDataReceivedMs >= p.keypairCreatedMs && p.lastDataReceivedMs > 0) out.initiate = true;
    // Data went out KEEPALIVE_TIMEOUT + REKEY_TIMEOUT ago and nothing authenticated came back since: the session may be dead.
    if (p.unansweredSinceMs >= 0 && now - p.unansweredSinceMs >= keepalive + rekeyTimeout) out.initiate = true;
    // Packets wait and no handshake is running (a give-up, then new traffic).
    if (p.hasStaged && !hasKeypair) out.initiate = true;
    // A handshake wanted before traffic (start-up, persistent keepalive) and no keypair yet.
    if (p.handshakeWanted && !hasKeypair) out.initiate = true;
  }

  if (hasKeypair && age >= scaled(REJECT_AFTER_TIME, scale)) out.expireKeypair = true;
  if (hasKeypair && age >= 3 * scaled(REJECT_AFTER_TIME, scale)) out.wipeKeys = true;

  const persistentDue = p.persistentKeepaliveMs > 0 && now - p.lastSentMs >= p.persistentKeepaliveMs;
  if (hasKeypair && !out.expireKeypair) {
    // Passive keepalive: we received data and have sent nothing since, for KEEPALIVE_TIMEOUT.
    if (p.lastDataReceivedMs > p.lastSentMs && now - p.lastDataReceivedMs >= keepalive) out.keepalive = true;
    // Persistent keepalive: keep NAT mappings open even when idle.
    if (persistentDue) out.keepalive = true;
  } else if (persistentDue && !p.handshakeInFlight) {
    // A persistent keepalive with no usable keypair needs one first (an idle
    // session expires after REJECT_AFTER_TIME; the keepalive must outlive it).
    out.initiate = true;
  }
  return out;
}
