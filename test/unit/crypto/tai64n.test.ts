import { describe, expect, it } from 'vitest';
import { TAI64N_LEN, tai64nNow } from '../../../src/crypto/tai64n.ts';

describe('tai64nNow', () => {
  it('writes the current time with whitened nanoseconds at the given offset', () => {
    const out = new Uint8Array(4 + TAI64N_LEN + 4).fill(0x77);
    const before = Math.floor(Date.now() / 1000);
    tai64nNow(out, 4);
    const after = Math.floor(Date.now() / 1000);
    const v = new DataView(out.buffer);
    const label = v.getBigUint64(4);
    const seconds = Number(label - 0x400000000000000an);
    const nanos = v.getUint32(12);
    expect(seconds).toBeGreaterThanOrEqual(before);
    expect(seconds).toBeLessThanOrEqual(after);
    expect(nanos % 2 ** 24).toBe(0);
    expect(nanos).toBeLessThan(1e9);
    expect([...out.subarray(0, 4), ...out.subarray(16)]).toEqual([0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77]);
  });
});
