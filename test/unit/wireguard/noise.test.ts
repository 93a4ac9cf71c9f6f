/**
 * The handshake between two weft peers: keys agree, every failure is a
 * verdict that leaves the state alone, and no byte of a message can be
 * changed without the receiver noticing.
 */
import { describe, expect, it } from 'vitest';
import { readU32LE } from '../../../src/bytes/endian.ts';
import { generatePrivateKey } from '../../../src/crypto/x25519.ts';
import { compareTai64n } from '../../../src/crypto/tai64n.ts';
import {
  CONSTRUCTION,
  HandshakePeer,
  HandshakeState,
  IDENTIFIER,
  INITIAL_CHAIN_KEY,
  INITIAL_HASH,
  LocalIdentity,
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveKeypair,
} from '../../../src/wireguard/noise.ts';
import type { Handshake } from '../../../src/wireguard/noise.ts';
import { INIT_LEN, INIT_MAC1, INIT_SENDER, RESP_LEN, RESP_MAC1, RESP_SENDER, Verdict } from '../../../src/wireguard/messages.ts';
import { CookieGenerator } from '../../../src/wireguard/cookie.ts';
import { hash } from '../../../src/crypto/hash.ts';
import { isWeftError } from '../../../src/errors.ts';
import { thrownBy } from '../../helpers/errors.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface Pair {
  alice: LocalIdentity;
  bob: LocalIdentity;
  /** Bob as Alice knows him. */
  bobAtAlice: HandshakePeer;
  /** Alice as Bob knows her. */
  aliceAtBob: HandshakePeer;
  lookupAtBob: (k: Uint8Array) => HandshakePeer | undefined;
}

function pair(pskA?: Uint8Array, pskB: Uint8Array | undefined = pskA): Pair {
  const alice = new LocalIdentity(generatePrivateKey());
  const bob = new LocalIdentity(generatePrivateKey());
  const bobAtAlice = new HandshakePeer(alice, bob.publicKey, pskA);
  const aliceAtBob = new HandshakePeer(bob, alice.publicKey, pskB);
  const lookupAtBob = (k: Uint8Array): HandshakePeer | undefined => (hex(k) === hex(alice.publicKey) ? aliceAtBob : undefined);
  return { alice, bob, bobAtAlice, aliceAtBob, lookupAtBob };
}

/** Everything about a handshake that a failed consume must not touch. */
function snapshot(hs: Handshake): string {
  return JSON.stringify([hs.state, hs.localIndex, hs.remoteIndex, hex(hs.chainKey), hex(hs.hash), hex(hs.ephemeralPrivate), hex(hs.remoteEphemeral)]);
}

describe('handshake constants', () => {
  it('start from HASH(construction) and HASH(C || identifier)', () => {
    const enc = new TextEncoder();
    expect(CONSTRUCTION).toBe('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s');
    expect(IDENTIFIER).toBe('WireGuard v1 zx2c4 Jason@zx2c4.com');
    expect(hex(INITIAL_CHAIN_KEY)).toBe(hex(hash(enc.encode(CONSTRUCTION))));
    expect(hex(INITIAL_HASH)).toBe(hex(hash(INITIAL_CHAIN_KEY, enc.encode(IDENTIFIER))));
  });
});

describe('initiation / response round trip', () => {
  for (const withPsk of [false, true]) {
    it(`gives both sides matching keypairs ${withPsk ? 'with' : 'without'} a preshared key`, () => {
      const p = pair(withPsk ? generatePrivateKey() : undefined);
      const { message: init, handshake: hsA } = createInitiation(p.alice, p.bobAtAlice, { index: 0x01020304 });
      expect(init.length).toBe(INIT_LEN);
      expect(hsA.state).toBe(HandshakeState.InitiationCreated);

      const r = consumeInitiation(p.bob, init, p.lookupAtBob);
      expect(r.verdict).toBe(Verdict.Ok);
      expect(r.peer).toBe(p.aliceAtBob);
      const hsB = r.handshake!;
      expect(hsB.state).toBe(HandshakeState.InitiationConsumed);
      expect(hsB.remoteIndex).toBe(0x01020304);
      // After the initiation both sides hold the same chaining key and hash.
      expect(hex(hsB.chainKey)).toBe(hex(hsA.chainKey));
      expect(hex(hsB.hash)).toBe(hex(hsA.hash));

      const resp = createResponse(hsB, { index: 0xa0b0c0d0 });
      expect(resp.length).toBe(RESP_LEN);
      expect(readU32LE(resp, 4)).toBe(0xa0b0c0d0);
      expect(readU32LE(resp, 8)).toBe(0x01020304);
      expect(consumeResponse(hsA, resp)).toBe(Verdict.Ok);
      expect(hex(hsA.chainKey)).toBe(hex(hsB.chainKey));

      const ka = deriveKeypair(hsA);
      const kb = deriveKeypair(hsB);
      expect(hex(ka.sendKey)).toBe(hex(kb.receiveKey));
      expect(hex(ka.receiveKey)).toBe(hex(kb.sendKey));
      expect(hex(ka.sendKey)).not.toBe(hex(ka.receiveKey));
      expect([ka.localIndex, ka.remoteIndex, ka.initiator]).toEqual([0x01020304, 0xa0b0c0d0, true]);
      expect([kb.localIndex, kb.remoteIndex, kb.initiator]).toEqual([0xa0b0c0d0, 0x01020304, false]);
      // Deriving wipes the handshake.
      expect(hsA.state).toBe(HandshakeState.Zeroed);
      expect(hex(hsA.chainKey)).toBe('00'.repeat(32));
      expect(hex(hsA.ephemeralPrivate)).toBe('00'.repeat(32));
      expect(hex(hsB.ephemeralPrivate)).toBe('00'.repeat(32));
    });
  }

  it('fails the response when the preshared keys differ, leaving the initiator as it was', () => {
    const p = pair(generatePrivateKey(), generatePrivateKey());
    const { message, handshake: hsA } = createInitiation(p.alice, p.bobAtAlice);
    // The PSK only enters at the response (psk2), so the initiation still passes.
    const r = consumeInitiation(p.bob, message, p.lookupAtBob);
    expect(r.verdict).toBe(Verdict.Ok);
    const resp = createResponse(r.handshake!);
    const before = snapshot(hsA);
    expect(consumeResponse(hsA, resp)).toBe(Verdict.DecryptFailed);
    expect(snapshot(hsA)).toBe(before);
  });

  it('throws HANDSHAKE_STATE for calls out of order (a local fault, not input)', () => {
    const p = pair();
    const { handshake: hsA } = createInitiation(p.alice, p.bobAtAlice);
    for (const fn of [() => createResponse(hsA), () => deriveKeypair(hsA)]) {
      const caught = thrownBy(fn);
      expect(isWeftError(caught, 'HANDSHAKE_STATE')).toBe(true);
    }
  });

  it('refuses a low-order peer key at configuration', () => {
    const alice = new LocalIdentity(generatePrivateKey());
    expect(() => new HandshakePeer(alice, new Uint8Array(32))).toThrow(/low-order/u);
  });
});

describe('initiation rejections', () => {
  it('rejects a wrong MAC1 before anything else, changing nothing', () => {
    const p = pair();
    const { message } = createInitiation(p.alice, p.bobAtAlice);
    message[INIT_MAC1] = message[INIT_MAC1]! ^ 1;
    const ts = hex(p.aliceAtBob.lastTimestamp);
    expect(consumeInitiation(p.bob, message, p.lookupAtBob).verdict).toBe(Verdict.BadMac1);
    expect(hex(p.aliceAtBob.lastTimestamp)).toBe(ts);
  });

  it('rejects a replayed initiation (same timestamp) and an older one', () => {
    const p = pair();
    const t = 1_800_000_000_000;
    const first = createInitiation(p.alice, p.bobAtAlice, { wallClockMs: t }).message;
    const older = createInitiation(p.alice, p.bobAtAlice, { wallClockMs: t - 1000 }).message;
    expect(consumeInitiation(p.bob, first, p.lookupAtBob).verdict).toBe(Verdict.Ok);
    const accepted = p.aliceAtBob.lastTimestamp.slice();
    expect(consumeInitiation(p.bob, first, p.lookupAtBob).verdict).toBe(Verdict.Replay);
    expect(consumeInitiation(p.bob, older, p.lookupAtBob).verdict).toBe(Verdict.Replay);
    expect(compareTai64n(p.aliceAtBob.lastTimestamp, 0, accepted, 0)).toBe(0);
    const newer = createInitiation(p.alice, p.bobAtAlice, { wallClockMs: t + 1000 }).message;
    expect(consumeInitiation(p.bob, newer, p.lookupAtBob).verdict).toBe(Verdict.Ok);
  });

  it('rejects an initiation from an unknown static key', () => {
    const p = pair();
    const mallory = new LocalIdentity(generatePrivateKey());
    const bobAtMallory = new HandshakePeer(mallory, p.bob.publicKey);
    const { message } = createInitiation(mallory, bobAtMallory);
    const r = consumeInitiation(p.bob, message, p.lookupAtBob);
    expect(r).toEqual({ verdict: Verdict.UnknownPeer, peer: null, handshake: null });
  });

  it('rejects an initiation meant for someone else (MAC1 keyed to their key)', () => {
    const p = pair();
    const carol = new LocalIdentity(generatePrivateKey());
    const { message } = createInitiation(p.alice, new HandshakePeer(p.alice, carol.publicKey));
    expect(consumeInitiation(p.bob, message, p.lookupAtBob).verdict).toBe(Verdict.BadMac1);
  });

  it('rejects a low-order ephemeral key (an all-zero DH) as BadKey, even with a valid MAC1', () => {
    const p = pair();
    const { message } = createInitiation(p.alice, p.bobAtAlice);
    message.fill(0, 8, 40); // u = 0, a point of small order
    new CookieGenerator(p.bob.publicKey).addMacs(message);
    expect(consumeInitiation(p.bob, message, p.lookupAtBob).verdict).toBe(Verdict.BadKey);
  });

  it('rejects wrong lengths and types', () => {
    const p = pair();
    const { message } = createInitiation(p.alice, p.bobAtAlice);
    expect(consumeInitiation(p.bob, message.subarray(0, 147), p.lookupAtBob).verdict).toBe(Verdict.BadLength);
    expect(consumeInitiation(p.bob, new Uint8Array(149), p.lookupAtBob).verdict).toBe(Verdict.BadLength);
    const t = message.slice();
    t[0] = 2;
    expect(consumeInitiation(p.bob, t, p.lookupAtBob).verdict).toBe(Verdict.BadType);
  });

  it('rejects every single-byte change of an initiation, without throwing', () => {
    const p = pair();
    const { message } = createInitiation(p.alice, p.bobAtAlice);
    for (let i = 0; i < INIT_LEN; i++) {
      // mac2 (bytes 132..147) is only checked under load; with no cookie it is zeros.
      const underLoad = i >= INIT_MAC1 + 16;
      for (const bit of [0x01, 0x80]) {
        const m = message.slice();
        m[i] = m[i]! ^ bit;
        const r = consumeInitiation(p.bob, m, p.lookupAtBob, { underLoad, source: new Uint8Array([10, 0, 0, 1]) });
        expect(r.verdict, `byte ${i} bit ${bit}`).not.toBe(Verdict.Ok);
      }
    }
    // The untouched message still goes through: no rejection moved the timestamp.
    expect(consumeInitiation(p.bob, message, p.lookupAtBob).verdict).toBe(Verdict.Ok);
  });

  it('rejects changes past MAC1 too: an attacker who knows the public key can recompute MAC1', () => {
    const p = pair();
    const { message } = createInitiation(p.alice, p.bobAtAlice);
    const forger = new CookieGenerator(p.bob.publicKey);
    for (let i = 0; i < INIT_MAC1; i++) {
      // The sender index is not covered by the handshake hash (only by MAC1), by
      // design: changing it only changes where the response goes.
      if (i >= INIT_SENDER && i < INIT_SENDER + 4) continue;
      const m = message.slice();
      m[i] = m[i]! ^ 0x01;
      forger.addMacs(m);
      const r = consumeInitiation(p.bob, m, p.lookupAtBob);
      expect(r.verdict, `byte ${i}`).not.toBe(Verdict.Ok);
      expect(r.handshake).toBeNull();
    }
    expect(consumeInitiation(p.bob, message, p.lookupAtBob).verdict).toBe(Verdict.Ok);
  });
});

describe('response rejections', () => {
  function upToResponse(): { p: Pair; hsA: Handshake; resp: Uint8Array } {
    const p = pair(generatePrivateKey());
    const { message, handshake: hsA } = createInitiation(p.alice, p.bobAtAlice);
    const r = consumeInitiation(p.bob, message, p.lookupAtBob);
    return { p, hsA, resp: createResponse(r.handshake!) };
  }

  it('rejects every single-byte change of a response, leaving the initiator unchanged', () => {
    const { hsA, resp } = upToResponse();
    const before = snapshot(hsA);
    for (let i = 0; i < RESP_LEN; i++) {
      const underLoad = i >= RESP_MAC1 + 16;
      for (const bit of [0x01, 0x80]) {
        const m = resp.slice();
        m[i] = m[i]! ^ bit;
        const v = consumeResponse(hsA, m, { underLoad, source: new Uint8Array([10, 0, 0, 2]) });
        expect(v, `byte ${i} bit ${bit}`).not.toBe(Verdict.Ok);
        expect(snapshot(hsA)).toBe(before);
      }
    }
    expect(consumeResponse(hsA, resp)).toBe(Verdict.Ok);
  });

  it('rejects re-MACed changes to every authenticated byte of a response', () => {
    const { p, hsA, resp } = upToResponse();
    const before = snapshot(hsA);
    const forger = new CookieGenerator(p.alice.publicKey);
    for (let i = 0; i < RESP_MAC1; i++) {
      if (i >= RESP_SENDER && i < RESP_SENDER + 4) continue; // not in the hash, as above
      const m = resp.slice();
      m[i] = m[i]! ^ 0x01;
      forger.addMacs(m);
      expect(consumeResponse(hsA, m), `byte ${i}`).not.toBe(Verdict.Ok);
      expect(snapshot(hsA)).toBe(before);
    }
    expect(consumeResponse(hsA, resp)).toBe(Verdict.Ok);
  });

  it('rejects a response with a low-order ephemeral key as BadKey', () => {
    const { p, hsA, resp } = upToResponse();
    const before = snapshot(hsA);
    const m = resp.slice();
    m.fill(0, 12, 44);
    m[12] = 1; // u = 1: also a small-order point
    new CookieGenerator(p.alice.publicKey).addMacs(m);
    expect(consumeResponse(hsA, m)).toBe(Verdict.BadKey);
    expect(snapshot(hsA)).toBe(before);
  });

  it('rejects a response to another index, a second response, and a wrong MAC1', () => {
    const { hsA, resp } = upToResponse();
    const m = resp.slice();
    m[RESP_MAC1] = m[RESP_MAC1]! ^ 0xff;
    expect(consumeResponse(hsA, m)).toBe(Verdict.BadMac1);
    const other = resp.slice();
    other[8] = other[8]! ^ 1;
    expect(consumeResponse(hsA, other)).toBe(Verdict.WrongIndex);
    expect(consumeResponse(hsA, resp)).toBe(Verdict.Ok);
    expect(consumeResponse(hsA, resp)).toBe(Verdict.WrongState);
  });
});
