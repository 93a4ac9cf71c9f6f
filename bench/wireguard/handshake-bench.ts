/**
 * The cost of WireGuard's handshake (cold path, but it is what a responder
 * spends per initiation, so it bounds how many it can take under a flood).
 *
 *   npx tsc -p tsconfig.build.json
 *   node --expose-gc dist/bench/wireguard/handshake-bench.js [handshakes=2000] [dh=5000]
 *
 * Cases:
 *  - a full handshake, both sides in one process: createInitiation,
 *    consumeInitiation, createResponse, consumeResponse, and both keypairs;
 *  - each half alone: what the responder spends on one initiation
 *    (consumeInitiation + createResponse) is what a flood costs;
 *  - X25519 shared secrets and public keys through src/crypto/x25519.ts
 *    (libsodium since the switch) and through @noble/curves (before it).
 *
 * A full handshake runs 8 scalar multiplications (each side: one ephemeral
 * public key, three variable-base DHs; the static-static DH is precomputed
 * per peer). The table estimates the handshake rate with noble's X25519
 * from that count and the measured difference per operation.
 */
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { generatePrivateKey, publicKey, sharedSecret } from '../../src/crypto/x25519.ts';
import { HandshakePeer, LocalIdentity, consumeInitiation, consumeResponse, createInitiation, createResponse, deriveKeypair } from '../../src/wireguard/noise.ts';
import { Verdict } from '../../src/wireguard/messages.ts';
import { measure, printTable } from '../util/measure.ts';
import type { Measurement } from '../util/measure.ts';

const HANDSHAKES = Number(process.argv[2] ?? 2000);
const DH = Number(process.argv[3] ?? 5000);

const alice = new LocalIdentity(generatePrivateKey());
const bob = new LocalIdentity(generatePrivateKey());
const bobAtAlice = new HandshakePeer(alice, bob.publicKey, generatePrivateKey());
const aliceAtBob = new HandshakePeer(bob, alice.publicKey, bobAtAlice.presharedKey);
const lookup = (): HandshakePeer => aliceAtBob;
// Timestamps must grow for the responder to accept each initiation; a fake
// wall clock 20 ms apart per handshake keeps them distinct after whitening.
let wallClockMs = Date.now();

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench handshake failed at ${what}`);
}

function fullHandshake(): void {
  wallClockMs += 20;
  const { message, handshake: hsA } = createInitiation(alice, bobAtAlice, { wallClockMs });
  const r = consumeInitiation(bob, message, lookup);
  check(r.verdict === Verdict.Ok, 'consumeInitiation');
  const resp = createResponse(r.handshake!);
  check(consumeResponse(hsA, resp) === Verdict.Ok, 'consumeResponse');
  const ka = deriveKeypair(hsA);
  const kb = deriveKeypair(r.handshake!);
  check(ka.sendKey[0] === kb.receiveKey[0], 'keys');
}

/** The responder's work for one initiation; the initiations are made beforehand. */
function responderHalf(n: number): () => void {
  const inits: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    wallClockMs += 20;
    inits.push(createInitiation(alice, bobAtAlice, { wallClockMs }).message);
  }
  // measure() restarts i after the warm-up, so walk the list with a counter of our own.
  let next = 0;
  return () => {
    const r = consumeInitiation(bob, inits[next++]!, lookup);
    check(r.verdict === Verdict.Ok, 'consumeInitiation (responder half)');
    createResponse(r.handshake!);
  };
}

async function main(): Promise<void> {
  const warm = Math.min(200, HANDSHAKES);
  const rows: Measurement[] = [];
  rows.push(await measure('full handshake (init + consume + response + consume + 2 keypairs)', HANDSHAKES, fullHandshake, warm));
  const half = responderHalf(HANDSHAKES + warm);
  rows.push(await measure('responder: consumeInitiation + createResponse', HANDSHAKES, half, warm));

  const a = generatePrivateKey();
  const bPub = publicKey(generatePrivateKey());
  const dhWarm = Math.min(500, DH);
  const sodiumSs = await measure('x25519 sharedSecret (libsodium, now)', DH, () => {
    check(sharedSecret(a, bPub) !== null, 'dh');
  }, dhWarm);
  const sodiumPk = await measure('x25519 publicKey (libsodium, now)', DH, () => publicKey(a), dhWarm);
  const nobleN = Math.max(100, Math.floor(DH / 10));
  const nobleSs = await measure('x25519 getSharedSecret (@noble/curves, before)', nobleN, () => nobleX25519.getSharedSecret(a, bPub), Math.min(100, nobleN));
  const noblePk = await measure('x25519 getPublicKey (@noble/curves, before)', nobleN, () => nobleX25519.getPublicKey(a), Math.min(100, nobleN));
  rows.push(sodiumSs, sodiumPk, nobleSs, noblePk);
  printTable(rows);

  const full = rows[0]!;
  const perSec = (ns: number): string => Math.round(1e9 / ns).toLocaleString('en-US');
  // 6 variable-base DHs and 2 base-point multiplications per full handshake.
  const beforeNs = full.nsPerOp + 6 * (nobleSs.nsPerOp - sodiumSs.nsPerOp) + 2 * (noblePk.nsPerOp - sodiumPk.nsPerOp);
  console.log(
    `\nX25519 shared secrets per second: libsodium ${perSec(sodiumSs.nsPerOp)}, @noble/curves ${perSec(nobleSs.nsPerOp)} ` +
      `(${(nobleSs.nsPerOp / sodiumSs.nsPerOp).toFixed(1)}x)`,
  );
  console.log(`full handshakes per second: ${perSec(full.nsPerOp)} now; about ${perSec(beforeNs)} with @noble/curves (estimated from 8 scalar multiplications per handshake)`);
  console.log(`initiations a responder can answer per second: ${perSec(rows[1]!.nsPerOp)}`);
}

await main();
