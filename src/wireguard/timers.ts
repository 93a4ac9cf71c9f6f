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
    // Data sent and nothing heard back for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT: the session may be dead.
    if (p.lastDataSentMs > 0 && p.lastDataSentMs > p.lastReceivedMs && now - p.lastDataSentMs >= keepalive + rekeyTimeout) out.initiate = true;
    // Packets wait and no handshake is running (a give-up, then new traffic).
    if (p.hasStaged && !hasKeypair) out.initiate = true;
  }

  if (hasKeypair && age >= scaled(REJECT_AFTER_TIME, scale)) out.expireKeypair = true;
  if (hasKeypair && age >= 3 * scaled(REJECT_AFTER_TIME, scale)) out.wipeKeys = true;

  if (hasKeypair && !out.expireKeypair) {
    // Passive keepalive: we received data and have sent nothing since, for KEEPALIVE_TIMEOUT.
    if (p.lastDataReceivedMs > p.lastSentMs && now - p.lastDataReceivedMs >= keepalive) out.keepalive = true;
    // Persistent keepalive: keep NAT mappings open even when idle.
    if (p.persistentKeepaliveMs > 0 && now - p.lastSentMs >= p.persistentKeepaliveMs) out.keepalive = true;
  }
  return out;
}
