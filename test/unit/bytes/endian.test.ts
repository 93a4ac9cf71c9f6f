/** src/bytes/endian.ts byte for byte against DataView and Buffer on random values and offsets. */
import { describe, expect, it } from 'vitest';
import {
  readU16BE, readU16LE, readU32BE, readU32LE, readU48BE, writeU16BE, writeU16LE, writeU32BE, writeU32LE, writeU48BE,
} from '../../../src/bytes/endian.ts';
import { mulberry32 } from '../../helpers/random.ts';

/** Byte equality without vitest's deep compare (slow on thousands of typed arrays). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

const SEED = 0x12345;
const ROUNDS = 5000;

function randomBytes(next: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  return b;
}

describe('explicit-endian reads (seed 0x12345)', () => {
  it('agree with DataView and Buffer at every offset of random bytes', () => {
    const next = mulberry32(SEED);
    for (let r = 0; r < ROUNDS; r++) {
      // A view that does not start at its buffer's start, so offsets are relative.
      const whole = randomBytes(next, 64);
      const lead = next() % 8;
      const b = whole.subarray(lead, lead + 40);
      const v = new DataView(b.buffer, b.byteOffset, b.length);
      const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
      const off = next() % (b.length - 6);
      expect(readU16BE(b, off)).toBe(v.getUint16(off));
      expect(readU16LE(b, off)).toBe(v.getUint16(off, true));
      expect(readU16LE(b, off)).toBe(buf.readUInt16LE(off));
      expect(readU32BE(b, off)).toBe(v.getUint32(off));
      expect(readU32LE(b, off)).toBe(v.getUint32(off, true));
      expect(readU48BE(b, off)).toBe(buf.readUIntBE(off, 6));
      expect(readU32BE(b, off)).toBe(buf.readUInt32BE(off));
      expect(readU32LE(b, off)).toBe(buf.readUInt32LE(off));
    }
  });

  it('return unsigned values at the extremes', () => {
    const b = new Uint8Array(8).fill(0xff);
    expect([readU16BE(b, 0), readU32BE(b, 0), readU32LE(b, 0), readU48BE(b, 0)]).toEqual([0xffff, 0xffffffff, 0xffffffff, 2 ** 48 - 1]);
    expect(readU32BE(b, 0) | 0).toBe(-1);
  });
});

describe('explicit-endian writes (seed 0x12345)', () => {
  it('write what DataView and Buffer write, and nothing around it', () => {
    const next = mulberry32(SEED + 1);
    for (let r = 0; r < ROUNDS; r++) {
      const off = next() % 32;
      const u32 = next();
      const u16 = u32 & 0xffff;
      const u48 = (next() & 0xffff) * 2 ** 32 + next();
      const fill = next() & 0xff;
      const cases: [(b: Uint8Array) => void, (v: DataView, buf: Buffer) => void][] = [
        [(b) => writeU16BE(b, off, u16), (v) => v.setUint16(off, u16)],
        [(b) => writeU16LE(b, off, u16), (v) => v.setUint16(off, u16, true)],
        [(b) => writeU32BE(b, off, u32), (v) => v.setUint32(off, u32)],
        [(b) => writeU32LE(b, off, u32), (v) => v.setUint32(off, u32, true)],
        [(b) => writeU48BE(b, off, u48), (_v, buf) => buf.writeUIntBE(u48, off, 6)],
      ];
      for (const [ours, theirs] of cases) {
        const a = new Uint8Array(40).fill(fill);
        const e = new Uint8Array(40).fill(fill);
        ours(a);
        theirs(new DataView(e.buffer), Buffer.from(e.buffer));
        expect(same(a, e), `round ${r}`).toBe(true);
      }
    }
  });

  it('take the low bits of wider or negative values, as a typed array store does', () => {
    const next = mulberry32(SEED + 2);
    for (let r = 0; r < 1000; r++) {
      const x = (next() | 0) * (next() & 1 ? 1 : -1);
      const a = new Uint8Array(4);
      const e = new Uint8Array(4);
      writeU32BE(a, 0, x);
      new DataView(e.buffer).setUint32(0, x >>> 0);
      expect(same(a, e), `round ${r}`).toBe(true);
      writeU16BE(a, 0, x);
      new DataView(e.buffer).setUint16(0, x & 0xffff);
      expect(a.subarray(0, 2)).toEqual(e.subarray(0, 2));
    }
  });

  it('round-trip', () => {
    const next = mulberry32(SEED + 3);
    const b = new Uint8Array(16);
    for (let r = 0; r < 1000; r++) {
      const x = next();
      writeU32BE(b, 3, x);
      expect(readU32BE(b, 3)).toBe(x);
      writeU32LE(b, 5, x);
      expect(readU32LE(b, 5)).toBe(x);
      writeU16BE(b, 1, x);
      expect(readU16BE(b, 1)).toBe(x & 0xffff);
      writeU16LE(b, 2, x);
      expect(readU16LE(b, 2)).toBe(x & 0xffff);
      const y = (x & 0xffff) * 2 ** 32 + next();
      writeU48BE(b, 7, y);
      expect(readU48BE(b, 7)).toBe(y);
    }
  });
});
