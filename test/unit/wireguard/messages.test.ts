/** Byte-for-byte layout of WireGuard's messages (whitepaper 5.4), checked on messages the handshake builds. */
import { describe, expect, it } from 'vitest';
import { readU32LE, writeU32LE } from '../../../src/bytes/endian.ts';
import { generatePrivateKey } from '../../../src/crypto/x25519.ts';
import * as M from '../../../src/wireguard/messages.ts';
import { HandshakePeer, LocalIdentity, consumeInitiation, createInitiation, createResponse } from '../../../src/wireguard/noise.ts';

describe('message layouts', () => {
  it('have the sizes and field offsets of the whitepaper', () => {
    expect([M.INIT_LEN, M.RESP_LEN, M.COOKIE_REPLY_LEN, M.TRANSPORT_HEADER_LEN]).toEqual([148, 92, 64, 16]);
    // initiation: type+reserved 4, sender 4, ephemeral 32, static 48, timestamp 28, mac1 16, mac2 16
    expect([M.INIT_SENDER, M.INIT_EPHEMERAL, M.INIT_STATIC, M.INIT_TIMESTAMP, M.INIT_MAC1, M.INIT_MAC2]).toEqual([4, 8, 40, 88, 116, 132]);
    expect(M.INIT_STATIC + M.INIT_STATIC_LEN).toBe(M.INIT_TIMESTAMP);
    expect(M.INIT_TIMESTAMP + M.INIT_TIMESTAMP_LEN).toBe(M.INIT_MAC1);
    expect(M.INIT_MAC2 + 16).toBe(M.INIT_LEN);
    // response: type 4, sender 4, receiver 4, ephemeral 32, empty 16, mac1 16, mac2 16
    expect([M.RESP_SENDER, M.RESP_RECEIVER, M.RESP_EPHEMERAL, M.RESP_EMPTY, M.RESP_MAC1, M.RESP_MAC2]).toEqual([4, 8, 12, 44, 60, 76]);
    expect(M.RESP_MAC2 + 16).toBe(M.RESP_LEN);
    // cookie reply: type 4, receiver 4, nonce 24, cookie 32
    expect([M.COOKIE_RECEIVER, M.COOKIE_NONCE, M.COOKIE_SEALED]).toEqual([4, 8, 32]);
    expect(M.COOKIE_SEALED + M.COOKIE_SEALED_LEN).toBe(M.COOKIE_REPLY_LEN);
    // transport: type 4, receiver 4, counter 8
    expect([M.TRANSPORT_RECEIVER, M.TRANSPORT_COUNTER]).toEqual([4, 8]);
    expect(M.TRANSPORT_MIN_LEN).toBe(32);
  });

  it('reads and writes little-endian indices and the type word', () => {
    const b = new Uint8Array(24);
    writeU32LE(b, 4, 0xdeadbeef);
    expect([...b.subarray(4, 8)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(readU32LE(b, 4)).toBe(0xdeadbeef);
    M.writeTransportHeader(b, 0, 0x01020304, 0x05060708, 0x090a0b0c);
    expect([...b.subarray(0, 16)]).toEqual([4, 0, 0, 0, 4, 3, 2, 1, 8, 7, 6, 5, 0xc, 0xb, 0xa, 9]);
    expect([M.readCounterLo(b, 0), M.readCounterHi(b, 0)]).toEqual([0x05060708, 0x090a0b0c]);
    expect(M.messageType(b, 0, 16)).toBe(M.MessageType.Transport);
    b[2] = 1; // a reserved byte set: not a message we know
    expect(M.messageType(b, 0, 16)).toBe(0);
    expect(M.messageType(b, 0, 3)).toBe(0);
    expect([M.expectedLength(1), M.expectedLength(2), M.expectedLength(3), M.expectedLength(4)]).toEqual([148, 92, 64, 0]);
    expect([0, 1, 15, 16, 17].map(M.paddingFor)).toEqual([0, 15, 1, 0, 15]);
    expect(M.verdictNames.length).toBe(Object.keys(M.Verdict).length);
  });

  it('puts each field where the layout says, in real messages', () => {
    const alice = new LocalIdentity(generatePrivateKey());
    const bob = new LocalIdentity(generatePrivateKey());
    const { message: init, handshake } = createInitiation(alice, new HandshakePeer(alice, bob.publicKey), { index: 0x0a0b0c0d });
    expect([...init.subarray(0, 8)]).toEqual([1, 0, 0, 0, 0x0d, 0x0c, 0x0b, 0x0a]);
    expect(handshake.localIndex).toBe(0x0a0b0c0d);
    const aliceAtBob = new HandshakePeer(bob, alice.publicKey);
    const r = consumeInitiation(bob, init, () => aliceAtBob);
    // The responder saw the initiator's ephemeral exactly at bytes 8..40.
    expect(Buffer.from(r.handshake!.remoteEphemeral).equals(Buffer.from(init.subarray(8, 40)))).toBe(true);
    const resp = createResponse(r.handshake!, { index: 0x01020304 });
    expect([...resp.subarray(0, 12)]).toEqual([2, 0, 0, 0, 4, 3, 2, 1, 0x0d, 0x0c, 0x0b, 0x0a]);
  });
});
