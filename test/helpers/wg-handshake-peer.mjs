// The weft side of the wireguard-go interop test (test/integration/wireguard-handshake.test.ts),
// run inside a test namespace with `ip netns exec <ns> node`. It uses weft's compiled
// handshake from dist/, so build first (npx tsc -p tsconfig.build.json).
//
//   node wg-handshake-peer.mjs initiate PRIVATE_KEY PEER_PUBLIC_KEY PSK|- HOST PORT INNER_SRC INNER_DST
//     1. sends a weft-made initiation to HOST:PORT and consumes the response;
//     2. sends one transport data message (counter 0) carrying an ICMP echo request
//        INNER_SRC -> INNER_DST, sealed with weft's send key;
//     3. waits for the echo reply, opens it with weft's receive key and checks it.
//
//   node wg-handshake-peer.mjs respond PRIVATE_KEY PEER_PUBLIC_KEY PSK|- LISTEN_PORT
//     1. prints {"step":"listening"}, consumes the first initiation and answers it;
//     2. opens the first transport message (an ICMP echo request) with weft's receive key;
//     3. seals the echo reply with weft's send key (counter 0) and sends it back.
//
// Prints one JSON line per step on stdout; exits 0 when every step passed.
import { createSocket } from 'node:dgram';

const dist = new URL('../../dist/src/', import.meta.url);
const noise = await import(new URL('wireguard/noise.js', dist).href);
const msgs = await import(new URL('wireguard/messages.js', dist).href);
const bytes = await import(new URL('bytes/endian.js', dist).href);
const keys = await import(new URL('crypto/keys.js', dist).href);
const aead = await import(new URL('crypto/aead.js', dist).href);

const [mode, privText, peerText, pskText, ...rest] = process.argv.slice(2);
const local = new noise.LocalIdentity(keys.decodeKey(privText, 'private key'));
const peer = new noise.HandshakePeer(local, keys.decodeKey(peerText, 'peer public key'), pskText === '-' ? undefined : keys.decodeKey(pskText, 'psk'));

const sock = createSocket('udp4');
await new Promise((resolve) => sock.bind(mode === 'respond' ? Number(rest[0]) : 0, resolve));
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (why) => {
  say({ step: 'fail', why });
  process.exit(1);
};
setTimeout(() => fail('timed out'), 15_000).unref();

/** Resolve with the first datagram `accept` returns non-undefined for. */
function receive(accept) {
  return new Promise((resolve) => {
    const on = (buf, rinfo) => {
      const r = accept(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), rinfo);
      if (r !== undefined) {
        sock.off('message', on);
        resolve(r);
      }
    };
    sock.on('message', on);
  });
}

function checksum(b, off, len) {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (b[off + i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
const ECHO_ID = 0x7777;

/** An IPv4 ICMP echo (type 8 request, 0 reply) src -> dst, zero-padded to 16 as WireGuard pads. */
function icmpEcho(type, src, dst, id, seq, payload) {
  const ipLen = 20 + 8 + payload.length;
  const p = new Uint8Array(ipLen + msgs.paddingFor(ipLen));
  p.set([0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 1, 0x40, 0, 64, 1, 0, 0, ...src, ...dst]);
  const ipSum = checksum(p, 0, 20);
  p[10] = ipSum >> 8;
  p[11] = ipSum & 0xff;
  p.set([type, 0, 0, 0, id >> 8, id & 0xff, seq >> 8, seq & 0xff], 20);
  p.set(payload, 28);
  const icmpSum = checksum(p, 20, 8 + payload.length);
  p[22] = icmpSum >> 8;
  p[23] = icmpSum & 0xff;
  return p;
}

/** A transport message to `kp`'s peer: header (counter 0) and `plain` sealed with the send key. */
function seal(kp, plain) {
  const data = new Uint8Array(msgs.TRANSPORT_HEADER_LEN + plain.length + 16);
  msgs.writeTransportHeader(data, 0, kp.remoteIndex, 0, 0);
  data.set(aead.aeadSeal(kp.sendKey, 0n, plain), msgs.TRANSPORT_HEADER_LEN);
  return data;
}

/** The next non-keepalive transport message to our index, opened with the receive key. */
function receiveData(kp) {
  return receive((m, rinfo) => {
    if (msgs.messageType(m, 0, m.length) !== msgs.MessageType.Transport || m.length <= msgs.TRANSPORT_MIN_LEN) return undefined;
    if (bytes.readU32LE(m, msgs.TRANSPORT_RECEIVER) !== kp.localIndex) return undefined;
    const counter = BigInt(msgs.readCounterLo(m, 0)) + (BigInt(msgs.readCounterHi(m, 0)) << 32n);
    const packet = aead.aeadOpen(kp.receiveKey, counter, m.subarray(msgs.TRANSPORT_HEADER_LEN));
    return { packet, counter: Number(counter), rinfo };
  });
}

const dotted = (b) => [...b].join('.');
const ip4 = (text) => text.split('.').map(Number);

if (mode === 'initiate') {
  const [host, portText, innerSrc, innerDst] = rest;
  const port = Number(portText);
  // 1. Handshake.
  const { message, handshake } = noise.createInitiation(local, peer);
  const gotResponse = receive((m) => (msgs.messageType(m, 0, m.length) === msgs.MessageType.Response ? m : undefined));
  sock.send(message, port, host);
  const verdict = noise.consumeResponse(handshake, await gotResponse);
  say({ step: 'response', verdict: msgs.verdictNames[verdict] });
  if (verdict !== msgs.Verdict.Ok) process.exit(1);
  const kp = noise.deriveKeypair(handshake);
  // 2. The echo request; 3. its reply comes back sealed with the responder's send key (our receive key).
  const gotReply = receiveData(kp);
  sock.send(seal(kp, icmpEcho(8, ip4(innerSrc), ip4(innerDst), ECHO_ID, 1, new TextEncoder().encode('weft interop ping'))), port, host);
  const reply = await gotReply;
  if (reply.packet === null) fail('a transport message to our index did not open with the receive key');
  const p = reply.packet;
  const [src, dst] = [dotted(p.subarray(12, 16)), dotted(p.subarray(16, 20))];
  const ok = p[9] === 1 && p[20] === 0 && ((p[24] << 8) | p[25]) === ECHO_ID && src === innerDst && dst === innerSrc;
  say({ step: 'echo-reply', ok, counter: reply.counter, src, dst, icmpType: p[20] });
  sock.close();
  process.exit(ok ? 0 : 1);
} else if (mode === 'respond') {
  const gotInit = receive((m, rinfo) => (msgs.messageType(m, 0, m.length) === msgs.MessageType.Initiation ? { m, rinfo } : undefined));
  say({ step: 'listening' });
  const { m, rinfo } = await gotInit;
  const r = noise.consumeInitiation(local, m, (k) => (Buffer.compare(k, peer.publicKey) === 0 ? peer : undefined));
  say({ step: 'initiation', verdict: msgs.verdictNames[r.verdict] });
  if (r.verdict !== msgs.Verdict.Ok) process.exit(1);
  const response = noise.createResponse(r.handshake);
  const kp = noise.deriveKeypair(r.handshake);
  // Key confirmation: the responder sends nothing until the initiator's first data arrives.
  const gotData = receiveData(kp);
  sock.send(response, rinfo.port, rinfo.address);
  const data = await gotData;
  if (data.packet === null) fail('a transport message to our index did not open with the receive key');
  const p = data.packet;
  const [src, dst] = [p.subarray(12, 16), p.subarray(16, 20)];
  const isEcho = p[9] === 1 && p[20] === 8;
  say({ step: 'data', counter: data.counter, src: dotted(src), dst: dotted(dst), isEcho });
  if (!isEcho) process.exit(1);
  const ipLen = (p[2] << 8) | p[3];
  const reply = icmpEcho(0, dst, src, (p[24] << 8) | p[25], (p[26] << 8) | p[27], p.slice(28, ipLen));
  sock.send(seal(kp, reply), data.rinfo.port, data.rinfo.address);
  say({ step: 'sent-reply' });
  // Let the datagram leave before exiting.
  setTimeout(() => process.exit(0), 200);
} else {
  fail(`unknown mode ${mode}`);
}
