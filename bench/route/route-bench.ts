/**
 * RouteTable lookup cost: ns per lookup for IPv4 and IPv6 tables of 10,
 * 1000 and 100000 random prefixes, and heap growth and GC count across a
 * million lookups to show that a lookup allocates nothing.
 *
 *   npx tsc -p tsconfig.build.json
 *   node --expose-gc dist/bench/route/route-bench.js
 *
 * Without --expose-gc the heap figures are taken without a full collection
 * first and are noisier. Addresses are read in place from one preallocated
 * buffer, as the data path does; half of them fall inside stored prefixes.
 */
import { RouteTable } from '../../src/route/route-table.ts';
import type { Cidr } from '../../src/wire/addr.ts';
import { mulberry32 } from '../../test/helpers/random.ts';
import { gcWindow, hasGc } from '../util/measure.ts';

const SIZES = [10, 1000, 100_000];
/** Distinct lookup addresses, cycled through; a power of two so the index is a mask. */
const ADDRS = 4096;
const WARMUP = 300_000;
const LOOKUPS = 2_000_000;
const HEAP_LOOKUPS = 1_000_000;


interface Peer {
  id: number;
}

interface Setup {
  table: RouteTable<Peer>;
  /** ADDRS addresses back to back, 4 or 16 bytes each. */
  addrs: Uint8Array;
  len: number;
}

function setup(family: 4 | 6, prefixes: number, seed: number): Setup {
  const rand = mulberry32(seed);
  const len = family === 4 ? 4 : 16;
  const table = new RouteTable<Peer>();
  const stored: Cidr[] = [];
  const peers = Array.from({ length: 256 }, (_, id) => ({ id }));
  while (table.size < prefixes) {
    // IPv4 /8 to /32, IPv6 /16 to /128: what cluster, node and host routes look like.
    const bits = family === 4 ? 8 + (rand() % 25) : 16 + (rand() % 113);
    const addr = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const keep = bits - i * 8; // network bits in this byte; the rest stay zero
      addr[i] = keep >= 8 ? rand() : keep > 0 ? rand() & (0xff << (8 - keep)) : 0;
    }
    const cidr: Cidr = { family, addr, bits };
    table.insert(cidr, peers[rand() % peers.length]!);
    stored.push(cidr);
  }
  const addrs = new Uint8Array(ADDRS * len);
  for (let k = 0; k < ADDRS; k++) {
    const base = k * len;
    for (let i = 0; i < len; i++) addrs[base + i] = rand() & 0xff;
    if (k % 2 === 0) {
      // Inside a stored prefix: its network bits over the random host bits.
      const c = stored[rand() % stored.length]!;
      for (let i = 0; i < len; i++) {
        const keep = c.bits - i * 8;
        if (keep >= 8) addrs[base + i] = c.addr[i]!;
        else if (keep > 0) addrs[base + i] = c.addr[i]! | (addrs[base + i]! & (0xff >> keep));
      }
    }
  }
  return { table, addrs, len };
}

/** `count` lookups cycling through the addresses; returns the number of hits so nothing is optimised away. */
function run4(s: Setup, count: number): number {
  const { table, addrs } = s;
  let hits = 0;
  for (let i = 0; i < count; i++) {
    if (table.lookupV4At(addrs, (i & (ADDRS - 1)) << 2) !== undefined) hits++;
  }
  return hits;
}

function run6(s: Setup, count: number): number {
  const { table, addrs } = s;
  let hits = 0;
  for (let i = 0; i < count; i++) {
    if (table.lookupV6At(addrs, (i & (ADDRS - 1)) << 4) !== undefined) hits++;
  }
  return hits;
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${!hasGc() ? 'no --expose-gc (heap figures noisier)' : 'gc exposed'}`);
  console.log('family  prefixes    nodes  ns/lookup  hit rate  heap growth over 1e6 lookups  GCs during them');
  for (const family of [4, 6] as const) {
    for (const size of SIZES) {
      const s = setup(family, size, 0x5eed + size + family);
      const run = family === 4 ? run4 : run6;
      run(s, WARMUP);
      const t0 = process.hrtime.bigint();
      const hits = run(s, LOOKUPS);
      const ns = Number(process.hrtime.bigint() - t0) / LOOKUPS;

      let heapBefore = 0;
      let heapAfter = 0;
      const w = await gcWindow(() => {
        heapBefore = process.memoryUsage().heapUsed;
        run(s, HEAP_LOOKUPS);
        heapAfter = process.memoryUsage().heapUsed;
      });
      const gcs = w.scavenges + w.majorGcs;

      console.log(
        `IPv${family}    ${String(size).padStart(8)} ${String(s.table.nodes).padStart(8)} ${ns.toFixed(1).padStart(10)}` +
          `  ${((100 * hits) / LOOKUPS).toFixed(0).padStart(7)}%  ${String(heapAfter - heapBefore).padStart(22)} bytes  ${String(gcs).padStart(15)}`,
      );
    }
  }
}

await main();
