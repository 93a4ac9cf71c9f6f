/**
 * Per-packet AEAD cost for WireGuard transport data, and X25519 for the
 * handshake.
 *
 *   npx tsc -p tsconfig.build.json
 *   node --expose-gc dist/bench/crypto/aead-bench.js [iterations=1000000] [size=1400] [rounds=5]
 *
 * Each variant runs `iterations` operations on a `size`-byte packet in ring
 * memory, split into `rounds` rounds interleaved with the other variants, so
 * background load on a shared machine spreads over all of them; the table
 * shows the median and the best round in ns/op. Over the same operations it
 * counts GC events with bench/util/measure.ts's GcRecorder (attributed to
 * a variant by their start time, split scavenges/the rest), and measures bytes
 * allocated per operation as the heapUsed growth over a short window that no
 * GC interrupted. --expose-gc lets the bench collect before each window; it
 * runs without it too, with noisier numbers.
 *
 * Variants:
 *  - sealInPlace/openInPlace by OpenSSL through the addon (the default
 *    transport AEAD where it is built; src/crypto/aead-backend.ts);
 *  - by libsodium, one fresh view per call (the uncached path);
 *  - the same with AeadViews (one cached view per slot; steady state allocates nothing);
 *  - node:crypto createCipheriv/createDecipheriv('chacha20-poly1305') doing the
 *    same work: a cipher object per packet (key and nonce cannot be re-set),
 *    the output copied back into the ring;
 *  - a bare subarray(), i.e. what the uncached path adds;
 *  - a forged packet: openInPlace's -1 (each backend) against
 *    sodium-native's public wrapper, which throws on a bad tag.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { PacketRing } from '../../src/buf/packet-ring.ts';
import { AeadViews, openInPlace, sealInPlace, useTransportAead } from '../../src/crypto/aead.ts';
import type { AeadBackendName } from '../../src/crypto/aead-backend.ts';
import { generatePrivateKey, publicKey, sharedSecret } from '../../src/crypto/x25519.ts';
import { GcRecorder, collectGarbage, hasGc, settleGc } from '../util/measure.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const SIZE = Number(process.argv[3] ?? 1400);
const ROUNDS = Number(process.argv[4] ?? 5);

interface Variant {
  name: string;
  n: number;
  op: (i: number) => void;
  /** The transport AEAD the variant's in-place calls go to; switched to before its runs. */
  backend: AeadBackendName | undefined;
  roundNs: number[];
  windows: Array<[number, number]>;
  gcMinor: number;
  gcMajor: number;
  bytesPerOp: number;
}

const gcs = new GcRecorder();

function variant(name: string, n: number, op: (i: number) => void, backend?: AeadBackendName): Variant {
  return { name, n, op, backend, roundNs: [], windows: [], gcMinor: 0, gcMajor: 0, bytesPerOp: Number.NaN };
}

function useBackendOf(v: Variant): void {
  if (v.backend !== undefined) useTransportAead(v.backend);
}

/**
 * heapUsed growth per op over a window short enough to fit in the young
 * generation (5000 ops, fewer for heavy allocators), retried if a GC lands in it.
 */
async function bytesPerOp(v: Variant): Promise<number> {
  useBackendOf(v);
  for (const size of [5000, 500, 50, 5]) {
    const n = Math.min(size, v.n);
    for (let attempt = 0; attempt < 3; attempt++) {
      collectGarbage();
      await settleGc();
      const before = gcs.entries.length;
      const h0 = process.memoryUsage().heapUsed;
      for (let i = 0; i < n; i++) v.op(i);
      const h1 = process.memoryUsage().heapUsed;
      await settleGc();
      if (gcs.entries.length === before) return Math.max(0, (h1 - h0) / n);
    }
  }
  return Number.NaN;
}

async function run(variants: Variant[], rounds: number): Promise<void> {
  for (const v of variants) {
    useBackendOf(v);
    for (let i = 0; i < Math.min(20_000, v.n); i++) v.op(i); // JIT warm-up
  }
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      useBackendOf(v);
      const per = Math.max(1, Math.floor(v.n / rounds));
      collectGarbage();
      const t0 = performance.now();
      for (let i = 0; i < per; i++) v.op(r * per + i);
      const t1 = performance.now();
      v.roundNs.push(((t1 - t0) * 1e6) / per);
      v.windows.push([t0, t1]);
    }
  }
  await settleGc();
  for (const v of variants) {
    const c = gcs.counts(v.windows);
    v.gcMinor = c.scavenges;
    v.gcMajor = c.majorGcs;
    v.bytesPerOp = await bytesPerOp(v);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function print(v: Variant): void {
  const total = Math.max(1, Math.floor(v.n / ROUNDS)) * ROUNDS;
  console.log(
    `${v.name.padEnd(50)} median ${median(v.roundNs).toFixed(0).padStart(8)} ns  best ${Math.min(...v.roundNs).toFixed(0).padStart(8)} ns  ` +
      `${(Number.isNaN(v.bytesPerOp) ? 'n/a' : v.bytesPerOp.toFixed(0)).padStart(5)} B/op  gc minor ${String(v.gcMinor).padStart(4)} major ${v.gcMajor} (over ${total} ops)`,
  );
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${SIZE}-byte packets, ${N} iterations in ${ROUNDS} rounds, --expose-gc ${hasGc() ? 'on' : 'off'}`);
  const ring = new PacketRing({ slots: 16, capacity: 1920 });
  const views = new AeadViews(ring.bytes, ring.slotCount);
  const slot = ring.acquire();
  const off = ring.offset[slot]! + 16; // behind the 16-byte WireGuard data header
  const buf = ring.bytes;
  const key = new Uint8Array(randomBytes(32));
  buf.set(randomBytes(SIZE), off);

  // Seal+open pairs use the same counter, so every open authenticates and the
  // packet is plaintext again for the next seal. Open alone = pair - seal.
  const aead = [
    variant('sodium sealInPlace, view per call', N, (i) => {
      sealInPlace(buf, off, SIZE, key, i >>> 0, 0);
    }, 'libsodium'),
    variant('sodium sealInPlace, AeadViews', N, (i) => {
      sealInPlace(buf, off, SIZE, key, i >>> 0, 0, views, slot);
    }, 'libsodium'),
    variant('sodium seal+open pair, view per call', N, (i) => {
      sealInPlace(buf, off, SIZE, key, i >>> 0, 0);
      if (openInPlace(buf, off, SIZE + 16, key, i >>> 0, 0) !== SIZE) throw new Error('open failed');
    }, 'libsodium'),
    variant('sodium seal+open pair, AeadViews', N, (i) => {
      sealInPlace(buf, off, SIZE, key, i >>> 0, 0, views, slot);
      if (openInPlace(buf, off, SIZE + 16, key, i >>> 0, 0, views, slot) !== SIZE) throw new Error('open failed');
    }, 'libsodium'),
  ];
  const openssl = [
    variant('openssl sealInPlace (addon)', N, (i) => {
      sealInPlace(buf, off, SIZE, key, i >>> 0, 0);
    }, 'openssl'),
    variant('openssl seal+open pair (addon)', N, (i) => {
      sealInPlace(buf, off, SIZE, key, i >>> 0, 0);
      if (openInPlace(buf, off, SIZE + 16, key, i >>> 0, 0) !== SIZE) throw new Error('open failed');
    }, 'openssl'),
  ];

  // node:crypto: one cipher object per packet, output copied into the ring.
  const nonce = new Uint8Array(12);
  const nonceView = new DataView(nonce.buffer);
  const nodeN = Math.max(1, Math.floor(N / 5));
  const nodeSeal = (i: number): void => {
    nonceView.setUint32(4, i, true);
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    buf.set(c.update(buf.subarray(off, off + SIZE)), off);
    c.final();
    buf.set(c.getAuthTag(), off + SIZE);
  };
  const node = [
    variant('node:crypto createCipheriv seal', nodeN, nodeSeal),
    variant('node:crypto seal+open pair', nodeN, (i) => {
      nodeSeal(i);
      const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      d.setAuthTag(buf.subarray(off + SIZE, off + SIZE + 16));
      buf.set(d.update(buf.subarray(off, off + SIZE)), off);
      d.final();
    }),
  ];

  let sink = 0;
  const subarray = variant('bare buf.subarray(off, off+len)', N, (i) => {
    sink += buf.subarray(off, off + SIZE - (i & 1)).length;
  });

  // Forged packets: a tag that never verifies (restored before every try,
  // because a failed open zeroes the body).
  useTransportAead('libsodium');
  sealInPlace(buf, off, SIZE, key, 1, 0);
  const forged = buf.slice(off, off + SIZE + 16);
  forged[SIZE]! ^= 1;
  const sodium = createRequire(import.meta.url)('sodium-native') as {
    crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: null, npub: Uint8Array, k: Uint8Array): number;
    crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  };
  const npub = new Uint8Array(12);
  npub[4] = 1;
  const forgedN = Math.max(1, Math.floor(N / 10));
  const forgery = [
    variant('forged packet: sodium openInPlace -> -1', forgedN, () => {
      buf.set(forged, off);
      if (openInPlace(buf, off, SIZE + 16, key, 1, 0, views, slot) !== -1) throw new Error('forgery accepted');
    }, 'libsodium'),
    variant('forged packet: openssl openInPlace -> -1', forgedN, () => {
      buf.set(forged, off);
      if (openInPlace(buf, off, SIZE + 16, key, 1, 0) !== -1) throw new Error('forgery accepted');
    }, 'openssl'),
    variant('forged packet: sodium-native wrapper throws', forgedN, () => {
      buf.set(forged, off);
      try {
        sodium.crypto_aead_chacha20poly1305_ietf_decrypt(buf.subarray(off, off + SIZE), null, buf.subarray(off, off + SIZE + 16), null, npub, key);
      } catch {
        sink++;
      }
    }),
  ];

  const all = [...openssl, ...aead, ...node, subarray, ...forgery];
  await run(all, ROUNDS);
  for (const v of all) print(v);
  const [seal, sealCached, pair, pairCached] = aead.map((v) => median(v.roundNs));
  console.log(
    `open alone (pair - seal, medians): view per call ${(pair! - seal!).toFixed(0)} ns, AeadViews ${(pairCached! - sealCached!).toFixed(0)} ns; ` +
      `AeadViews hit rate ${((100 * views.hits) / Math.max(1, views.hits + views.misses)).toFixed(3)}%`,
  );
  const [osSeal, osPair] = openssl.map((v) => median(v.roundNs));
  console.log(
    `openssl (addon) against sodium with AeadViews, medians: seal ${osSeal!.toFixed(0)} against ${sealCached!.toFixed(0)} ns (${(sealCached! / osSeal!).toFixed(2)}x), ` +
      `open ${(osPair! - osSeal!).toFixed(0)} against ${(pairCached! - sealCached!).toFixed(0)} ns`,
  );

  // X25519: a handshake costs each side one key generation and four DH operations.
  const xN = Math.max(50, Math.floor(N / 2000));
  const a = generatePrivateKey();
  const bPub = publicKey(generatePrivateKey());
  const pkcs8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
  const spki = Buffer.from('302a300506032b656e032100', 'hex');
  const q = new Uint8Array(32);
  const x = [
    variant('x25519 sharedSecret (weft x25519.ts, libsodium)', xN, () => {
      if (sharedSecret(a, bPub) === null) throw new Error('zero');
    }),
    variant('x25519 publicKey (weft x25519.ts, libsodium)', xN, () => {
      publicKey(a);
    }),
    variant('x25519 diffieHellman from raw keys (node:crypto)', xN, () => {
      const privateKey = createPrivateKey({ key: Buffer.concat([pkcs8, a]), format: 'der', type: 'pkcs8' });
      const pub = createPublicKey({ key: Buffer.concat([spki, bPub]), format: 'der', type: 'spki' });
      diffieHellman({ privateKey, publicKey: pub });
    }),
    variant('x25519 crypto_scalarmult (sodium-native)', xN, () => {
      sodium.crypto_scalarmult(q, a, bPub);
    }),
  ];
  await run(x, ROUNDS);
  for (const v of x) print(v);
  const perSec = (v: Variant): string => (1e9 / median(v.roundNs)).toFixed(0);
  console.log(
    `x25519 shared secrets per second: weft ${perSec(x[0]!)}, node:crypto from raw keys ${perSec(x[2]!)}, sodium-native direct ${perSec(x[3]!)}; ` +
      `weft publicKey ${perSec(x[1]!)}/s`,
  );
  await gcs.stop();
  if (sink === -1) console.log(sink);
}

await main();
