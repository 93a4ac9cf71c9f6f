import { describe, expect, it } from 'vitest';
import { dueActions } from '../../../src/wireguard/timers.ts';
import type { PeerClock } from '../../../src/wireguard/timers.ts';

function clock(over: Partial<PeerClock>): PeerClock {
  return {
    keypairCreatedMs: -1,
    keypairInitiator: false,
    handshakeInFlight: false,
    attemptStartedMs: 0,
    lastInitiationMs: 0,
    retryJitterMs: 0,
    lastDataReceivedMs: 0,
    lastSentMs: 0,
    lastDataSentMs: 0,
    lastReceivedMs: 0,
    persistentKeepaliveMs: 0,
    hasStaged: false,
    unansweredSinceMs: -1,
    handshakeWanted: false,
    ...over,
  };
}

const none = { initiate: false, giveUp: false, keepalive: false, expireKeypair: false, wipeKeys: false };

describe('WireGuard timers', () => {
  it('does nothing for an idle peer with a fresh keypair', () => {
    expect(dueActions(clock({ keypairCreatedMs: 1000, lastSentMs: 1000, lastReceivedMs: 1000 }), 2000)).toEqual(none);
  });

  it('retries an unanswered initiation after REKEY_TIMEOUT plus jitter, and gives up after REKEY_ATTEMPT_TIME', () => {
    const p = clock({ handshakeInFlight: true, attemptStartedMs: 0, lastInitiationMs: 0, retryJitterMs: 200 });
    expect(dueActions(p, 5199).initiate).toBe(false);
    expect(dueActions(p, 5200).initiate).toBe(true);
    expect(dueActions({ ...p, lastInitiationMs: 89_000 }, 90_000)).toMatchObject({ giveUp: true, initiate: false });
  });

  it('rekeys after REKEY_AFTER_TIME only as the initiator, and only when there is traffic', () => {
    const p = clock({ keypairCreatedMs: 0, keypairInitiator: true, lastDataSentMs: 50_000, lastSentMs: 50_000, lastReceivedMs: 50_000 });
    expect(dueActions(p, 119_999).initiate).toBe(false);
    expect(dueActions(p, 120_000).initiate).toBe(true);
    expect(dueActions({ ...p, keypairInitiator: false }, 120_000).initiate).toBe(false);
    expect(dueActions({ ...p, lastDataSentMs: 0 }, 120_000).initiate).toBe(false);
  });

  it('starts a new handshake KEEPALIVE + REKEY timeouts after the first unanswered data, however much data followed', () => {
    // Data first went out unanswered at 10 s and has gone out every tick since (lastDataSentMs keeps moving):
    // the rule counts from the first unanswered send, so steady traffic cannot postpone it.
    const p = clock({ keypairCreatedMs: 0, unansweredSinceMs: 10_000, lastDataSentMs: 24_900, lastSentMs: 24_900, lastReceivedMs: 9_000 });
    expect(dueActions(p, 24_999).initiate).toBe(false);
    expect(dueActions(p, 25_000).initiate).toBe(true);
    expect(dueActions({ ...p, lastDataSentMs: 25_000, lastSentMs: 25_000 }, 25_000).initiate).toBe(true);
    // Something authenticated arrived since: nothing is unanswered.
    expect(dueActions({ ...p, unansweredSinceMs: -1, lastReceivedMs: 11_000 }, 25_000).initiate).toBe(false);
  });

  it('handshakes ahead of traffic when one is wanted (start-up) and there is no keypair yet', () => {
    expect(dueActions(clock({ handshakeWanted: true }), 0).initiate).toBe(true);
    expect(dueActions(clock({ handshakeWanted: true, keypairCreatedMs: 0 }), 1000).initiate).toBe(false);
    // A handshake already in flight is left to its own retries.
    expect(dueActions(clock({ handshakeWanted: true, handshakeInFlight: true, lastInitiationMs: 0, attemptStartedMs: 0 }), 1000).initiate).toBe(false);
  });

  it('a persistent keepalive with no usable keypair starts a handshake instead of falling silent', () => {
    const idle = clock({ keypairCreatedMs: 0, lastSentMs: 175_000, persistentKeepaliveMs: 25_000 });
    // Past REJECT_AFTER_TIME the keypair is unusable: the next persistent keepalive needs a handshake.
    expect(dueActions(idle, 200_000)).toMatchObject({ initiate: true, keepalive: false, expireKeypair: true });
    expect(dueActions(clock({ lastSentMs: 0, persistentKeepaliveMs: 25_000 }), 25_000).initiate).toBe(true);
    expect(dueActions(clock({ lastSentMs: 0, persistentKeepaliveMs: 25_000 }), 24_999).initiate).toBe(false);
  });

  it('the initiator that only receives rekeys REKEY_TIMEOUT + KEEPALIVE before REJECT_AFTER_TIME', () => {
    const p = clock({ keypairCreatedMs: 0, keypairInitiator: true, lastDataReceivedMs: 160_000, lastReceivedMs: 160_000, lastSentMs: 160_000 });
    expect(dueActions(p, 164_999).initiate).toBe(false);
    expect(dueActions(p, 165_000).initiate).toBe(true);
    expect(dueActions({ ...p, keypairInitiator: false }, 165_000).initiate).toBe(false);
  });

  it('sends a passive keepalive KEEPALIVE_TIMEOUT after data arrived with nothing sent since', () => {
    const p = clock({ keypairCreatedMs: 0, lastDataReceivedMs: 20_000, lastReceivedMs: 20_000, lastSentMs: 15_000 });
    expect(dueActions(p, 29_999).keepalive).toBe(false);
    expect(dueActions(p, 30_000).keepalive).toBe(true);
    expect(dueActions({ ...p, lastSentMs: 21_000 }, 30_000).keepalive).toBe(false);
  });

  it('sends persistent keepalives on an idle session', () => {
    const p = clock({ keypairCreatedMs: 0, lastSentMs: 0, persistentKeepaliveMs: 25_000 });
    expect(dueActions(p, 24_999).keepalive).toBe(false);
    expect(dueActions(p, 25_000).keepalive).toBe(true);
  });

  it('expires a keypair at REJECT_AFTER_TIME and wipes keys at three times that', () => {
    const p = clock({ keypairCreatedMs: 0 });
    expect(dueActions(p, 179_999).expireKeypair).toBe(false);
    expect(dueActions(p, 180_000)).toMatchObject({ expireKeypair: true, wipeKeys: false, keepalive: false });
    expect(dueActions(p, 540_000)).toMatchObject({ expireKeypair: true, wipeKeys: true });
  });

  it('scales every constant for tests', () => {
    const p = clock({ handshakeInFlight: true, attemptStartedMs: 0, lastInitiationMs: 0, retryJitterMs: 100 });
    expect(dueActions(p, 51, 0.01).initiate).toBe(true);
    expect(dueActions(p, 50, 0.01).initiate).toBe(false);
    expect(dueActions(clock({ keypairCreatedMs: 0 }), 1800, 0.01).expireKeypair).toBe(true);
  });

  it('starts a handshake for staged packets when none is running and no keypair exists', () => {
    expect(dueActions(clock({ hasStaged: true }), 1).initiate).toBe(true);
  });
});
