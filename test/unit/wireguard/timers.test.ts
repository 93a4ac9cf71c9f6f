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

  it('starts a new handshake when data went out and nothing came back for KEEPALIVE + REKEY timeouts', () => {
    const p = clock({ keypairCreatedMs: 0, lastDataSentMs: 10_000, lastSentMs: 10_000, lastReceivedMs: 9_000 });
    expect(dueActions(p, 24_999).initiate).toBe(false);
    expect(dueActions(p, 25_000).initiate).toBe(true);
    expect(dueActions({ ...p, lastReceivedMs: 11_000 }, 25_000).initiate).toBe(false);
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
