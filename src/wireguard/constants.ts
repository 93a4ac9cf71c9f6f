/**
 * WireGuard's protocol constants (whitepaper section 6.1), in milliseconds
 * and messages. Tests scale the times through the backend's `timeScale`
 * option rather than editing these.
 */

/** Initiate a new handshake after this many messages sent on a keypair. */
export const REKEY_AFTER_MESSAGES = 2 ** 60;
/** Initiate a new handshake (as initiator) when the current keypair is this old. */
export const REKEY_AFTER_TIME = 120_000;
/** Never use a keypair older than this, in either direction. */
export const REJECT_AFTER_TIME = 180_000;
/** Give up retrying a handshake after this long (and drop the packets waiting for it). */
export const REKEY_ATTEMPT_TIME = 90_000;
/** Retry a handshake that got no response after this long, plus jitter. */
export const REKEY_TIMEOUT = 5_000;
/** Jitter added to each retry, up to this much, so peers do not retry in lockstep. */
export const REKEY_TIMEOUT_JITTER_MAX = 333;
/** Send a keepalive if we received data and sent nothing for this long. */
export const KEEPALIVE_TIMEOUT = 10_000;
/** A responder does not answer a second initiation from the same peer within this. */
export const HANDSHAKE_INITIATION_RATE = 20;
/** Cookie secrets rotate, and cookies expire, after this long. */
export const COOKIE_SECRET_MAX_AGE = 120_000;
/** The coarse tick that drives every per-peer timer. */
export const TIMER_TICK = 100;
/** Packets kept per peer while its handshake is in progress (wireguard-go keeps 1024). */
export const MAX_STAGED_PACKETS = 128;
/**
 * Peers added this soon after the backend starts are handshaken at once,
 * without waiting for traffic: a node that restarted has lost its sessions,
 * and its peers keep sending on keys it no longer holds until a handshake
 * replaces them. weft knows its peers' endpoints (config or gossip), so the
 * restarted side starts that handshake itself. Peers added later (a node
 * joining) are handshaken by that node's own start-up, not by everyone.
 */
export const STARTUP_HANDSHAKE_WINDOW = 30_000;
/** At most this many handshakes wanted ahead of traffic start per tick, so a large cluster's start-up is spread out. */
export const EAGER_HANDSHAKES_PER_TICK = 32;
