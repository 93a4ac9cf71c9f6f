/**
 * Sealing during a key rotation (seal-keys.ts): an endpoint gets the older
 * key it last spoke, a seed never heard gets every key, digests we start
 * go under the primary, and a one-key ring records nothing.
 */
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../../src/gossip/keyring.ts';
import { EVERY_KEY, SealKeys } from '../../../src/gossip/seal-keys.ts';

const k1 = new Uint8Array(32).fill(1);
const k2 = new Uint8Array(32).fill(2);
const plain = Uint8Array.of(9, 8, 7);

/** Open, at `ring`, a datagram sealed by a node whose ring is [key]. */
function hear(ring: Keyring, keys: SealKeys, from: Keyring, address: string): void {
  expect(ring.open(from.seal(2, plain))).toEqual(plain);
  keys.heard(address, 7946);
}

describe('SealKeys', () => {
  it('on a ring of [K2, K1]: the older key to an endpoint that spoke it, the primary once it speaks K2', () => {
    const ring = new Keyring(k2, [k1]);
    const keys = new SealKeys(ring);
    // Never heard: the primary when addressed, every key to a seed.
    expect(keys.keyFor('10.0.0.2', 7946, false, false)).toBe(0);
    expect(keys.keyFor('10.0.0.2', 7946, true, false)).toBe(EVERY_KEY);
    hear(ring, keys, new Keyring(k1), '10.0.0.2');
    expect(ring.lastOpened).toBe(1);
    expect(keys.keyFor('10.0.0.2', 7946, false, false)).toBe(1);
    expect(keys.keyFor('10.0.0.2', 7946, true, true)).toBe(1);
    // A digest we start goes under the primary: it moves a peer that holds K2 too.
    expect(keys.keyFor('10.0.0.2', 7946, false, true)).toBe(0);
    // What K1 seals is readable by a K1-only node; what the primary seals is not.
    expect(new Keyring(k1).open(ring.seal(2, plain, 1))).toEqual(plain);
    expect(new Keyring(k1).open(ring.seal(2, plain))).toBeNull();
    hear(ring, keys, new Keyring(k2, [k1]), '10.0.0.2');
    expect(ring.lastOpened).toBe(0);
    expect(keys.keyFor('10.0.0.2', 7946, false, false)).toBe(0);
    expect(keys.keyFor('10.0.0.2', 7946, true, false)).toBe(0);
    // Other endpoints are unaffected.
    expect(keys.keyFor('10.0.0.3', 7946, true, false)).toBe(EVERY_KEY);
  });

  it('remembers at most `max` endpoints, forgetting the oldest first', () => {
    const ring = new Keyring(k2, [k1]);
    const keys = new SealKeys(ring, 2);
    const old = new Keyring(k1);
    hear(ring, keys, old, '10.0.0.1');
    hear(ring, keys, old, '10.0.0.2');
    hear(ring, keys, old, '10.0.0.1');
    hear(ring, keys, old, '10.0.0.3');
    expect(keys.keyFor('10.0.0.2', 7946, false, false)).toBe(0);
    expect(keys.keyFor('10.0.0.1', 7946, false, false)).toBe(1);
    expect(keys.keyFor('10.0.0.3', 7946, false, false)).toBe(1);
  });

  it('with one key in the ring: always the primary, nothing recorded', () => {
    const ring = new Keyring(k1);
    const keys = new SealKeys(ring);
    hear(ring, keys, new Keyring(k1), '10.0.0.2');
    expect(keys.keyFor('10.0.0.2', 7946, true, false)).toBe(0);
    expect(keys.keyFor('10.0.0.9', 7946, true, false)).toBe(0);
  });
});
