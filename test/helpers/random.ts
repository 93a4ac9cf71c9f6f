/**
 * Seeded pseudo-random numbers for tests and benches (mulberry32), so that a
 * randomized test that fails reproduces from the seed it prints, and bench
 * runs draw the same inputs. Not for anything that needs real randomness.
 */

/** Unsigned 32-bit integers. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 0x100000000;
}
