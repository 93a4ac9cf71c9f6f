/**
 * MAC1 / MAC2 and cookie replies: under load a responder answers an
 * initiation without a valid MAC2 with a cookie reply, the initiator opens
 * it, and its retry carries a MAC2 that the responder accepts.
 */
import { describe, expect, it } from 'vitest';
import { readU32LE } from '../../../src/bytes/endian.ts';
import { generatePrivateKey } from '../../../src/crypto/x25519.ts';
import { mac, hash } from '../../../src/crypto/hash.ts';
import { COOKIE_LIFETIME_MS, CookieChecker, CookieGenerator, cookieKey, mac1Key } from '../../../src/wireguard/cookie.ts';
import {
  COOKIE_REPLY_LEN,
  INIT_LEN,
  INIT_MAC1,
  INIT_MAC2,
  MessageType,
  Verdict,
} from '../../../src/wireguard/messages.ts';
import { HandshakePeer, LocalIdentity, consumeInitiation, createInitiation } from '../../../src/wireguard/noise.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const SRC = new Uint8Array([10, 77, 0, 2, 0xca, 0x6c]); // 10.77.0.2:51820
const OTHER_SRC = new Uint8Array([10, 77, 0, 3, 0xca, 0x6c]);

function setup(): { alice: LocalIdentity; bob: LocalIdentity; bobAtAlice: HandshakePeer; lookup: (k: Uint8Array) => HandshakePeer | undefined } {
  const alice = new LocalIdentity(generatePrivateKey());
  const bob = new LocalIdentity(generatePrivateKey());
  const bobAtAlice = new HandshakePeer(alice, bob.publicKey);
  const aliceAtBob = new HandshakePeer(bob, alice.publicKey);
  return { alice, bob, bobAtAlice, lookup: (k) => (hex(k) === hex(alice.publicKey) ? aliceAtBob : undefined) };
}

describe('MAC keys', () => {
  it('are HASH("mac1----" || pub) and HASH("cookie--" || pub)', () => {
    const pub = new Uint8Array(32).fill(7);
    const enc = new TextEncoder();
    expect(hex(mac1Key(pub))).toBe(hex(hash(enc.encode('mac1----'), pub)));
    expect(hex(cookieKey(pub))).toBe(hex(hash(enc.encode('cookie--'), pub)));
  });

  it('MAC1 covers bytes 0..115 of an initiation; MAC2 is zero without a cookie', () => {
    const { alice, bob, bobAtAlice } = setup();
    const { message } = createInitiation(alice, bobAtAlice);
    expect(hex(message.subarray(INIT_MAC1, INIT_MAC2))).toBe(hex(mac(mac1Key(bob.publicKey), message.subarray(0, INIT_MAC1))));
    expect(hex(message.subarray(INIT_MAC2))).toBe('00'.repeat(16));
    expect(bob.cookies.checkMac1(message)).toBe(true);
  });
});

describe('cookie replies', () => {
  it('round trip: needs cookie under load, reply, retry with MAC2 accepted', () => {
    const { alice, bob, bobAtAlice, lookup } = setup();
    const now = 1_000_000;
    const first = createInitiation(alice, bobAtAlice, { now, index: 0x11223344 }).message;
    expect(consumeInitiation(bob, first, lookup, { underLoad: true, source: SRC, now }).verdict).toBe(Verdict.NeedsCookie);

    const reply = bob.cookies.createReply(first, SRC, now)!;
    expect(reply.length).toBe(COOKIE_REPLY_LEN);
    expect(readU32LE(reply, 0)).toBe(MessageType.CookieReply);
    expect(readU32LE(reply, 4)).toBe(0x11223344);

    // A forged or corrupted reply is refused and leaves no cookie behind.
    const bad = reply.slice();
    bad[40] = bad[40]! ^ 1;
    expect(bobAtAlice.cookies.consumeReply(bad, now)).toBe(Verdict.DecryptFailed);
    expect(bobAtAlice.cookies.hasFreshCookie(now)).toBe(false);

    expect(bobAtAlice.cookies.consumeReply(reply, now)).toBe(Verdict.Ok);
    expect(bobAtAlice.cookies.hasFreshCookie(now)).toBe(true);
    // One reply per message sent.
    expect(bobAtAlice.cookies.consumeReply(reply, now)).toBe(Verdict.WrongState);

    const retry = createInitiation(alice, bobAtAlice, { now: now + 1000 }).message;
    expect(hex(retry.subarray(INIT_MAC2))).not.toBe('00'.repeat(16));
    expect(bob.cookies.checkMac2(retry, SRC, now + 1000)).toBe(true);
    // The cookie is bound to the source address.
    expect(bob.cookies.checkMac2(retry, OTHER_SRC, now + 1000)).toBe(false);
    expect(consumeInitiation(bob, retry, lookup, { underLoad: true, source: SRC, now: now + 1000 }).verdict).toBe(Verdict.Ok);
  });

  it('under load, every changed MAC2 byte needs a cookie; not under load MAC2 is ignored', () => {
    const { alice, bob, bobAtAlice, lookup } = setup();
    const now = 5000;
    const first = createInitiation(alice, bobAtAlice, { now }).message;
    expect(bobAtAlice.cookies.consumeReply(bob.cookies.createReply(first, SRC, now)!, now)).toBe(Verdict.Ok);
    const msg = createInitiation(alice, bobAtAlice, { now }).message;
    for (let i = INIT_MAC2; i < INIT_LEN; i++) {
      const m = msg.slice();
      m[i] = m[i]! ^ 0x40;
      expect(bob.cookies.check(m, true, SRC, now)).toBe(Verdict.NeedsCookie);
      expect(bob.cookies.check(m, false, SRC, now)).toBe(Verdict.Ok);
    }
    expect(consumeInitiation(bob, msg, lookup, { underLoad: true, source: SRC, now }).verdict).toBe(Verdict.Ok);
  });

  it('stops writing MAC2 once the cookie is 120 s old', () => {
    const { alice, bob, bobAtAlice } = setup();
    const now = 0;
    const first = createInitiation(alice, bobAtAlice, { now }).message;
    expect(bobAtAlice.cookies.consumeReply(bob.cookies.createReply(first, SRC, now)!, now)).toBe(Verdict.Ok);
    expect(bobAtAlice.cookies.hasFreshCookie(now + COOKIE_LIFETIME_MS - 1)).toBe(true);
    const late = createInitiation(alice, bobAtAlice, { now: now + COOKIE_LIFETIME_MS }).message;
    expect(hex(late.subarray(INIT_MAC2))).toBe('00'.repeat(16));
  });

  it('rotates the cookie secret every 2 minutes, so old cookies stop verifying', () => {
    const { alice, bob, bobAtAlice } = setup();
    const now = 0;
    const first = createInitiation(alice, bobAtAlice, { now }).message;
    expect(bobAtAlice.cookies.consumeReply(bob.cookies.createReply(first, SRC, now)!, now)).toBe(Verdict.Ok);
    const msg = createInitiation(alice, bobAtAlice, { now: 100_000 }).message;
    expect(bob.cookies.checkMac2(msg, SRC, 100_000)).toBe(true);
    expect(bob.cookies.checkMac2(msg, SRC, 120_001)).toBe(false);
  });

  it('a cookie reply only opens for the sender of the message it answers', () => {
    const { alice, bob, bobAtAlice } = setup();
    const first = createInitiation(alice, bobAtAlice).message;
    const reply = bob.cookies.createReply(first, SRC)!;
    // Another message has been sent since: the reply's associated data (the old MAC1) no longer matches.
    createInitiation(alice, bobAtAlice);
    expect(bobAtAlice.cookies.consumeReply(reply)).toBe(Verdict.DecryptFailed);
    // A generator for some other responder cannot open it either.
    const stranger = new CookieGenerator(new LocalIdentity(generatePrivateKey()).publicKey);
    const m = first.slice();
    stranger.addMacs(m);
    expect(stranger.consumeReply(reply)).toBe(Verdict.DecryptFailed);
  });

  it('never throws on junk', () => {
    const checker = new CookieChecker(new Uint8Array(32).fill(9));
    const gen = new CookieGenerator(new Uint8Array(32).fill(9));
    for (const len of [0, 1, 4, 63, 64, 65, 91, 92, 147, 148, 149]) {
      const junk = new Uint8Array(len).fill(len & 0xff);
      if (len >= 4) junk[0] = len === 64 ? 3 : len === 92 ? 2 : 1;
      expect(() => checker.check(junk, true, SRC)).not.toThrow();
      expect(checker.createReply(junk, SRC) === null || len === 148 || len === 92).toBe(true);
      expect(gen.consumeReply(junk)).not.toBe(Verdict.Ok);
    }
  });
});
