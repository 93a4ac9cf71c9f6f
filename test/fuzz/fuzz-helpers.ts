/**
 * Shared pieces of the fuzz tests: how many inputs to run, and a seeded
 * generator of random and mutated bytes and text. Every draw comes from one
 * mulberry32 stream (test/helpers/random.ts), so a failure reproduces from
 * the seed in the test's name and the input index in its message.
 */
import { EventEmitter } from 'node:events';
import { mulberry32 } from '../helpers/random.ts';

/**
 * Inputs per target: `ciDefault` in the test suite, or WEFT_FUZZ_COUNT
 * (WEFT_FUZZ_COUNT=100000 npx vitest run test/fuzz) for the full run.
 */
export function fuzzCount(ciDefault: number): number {
  const n = Number(process.env.WEFT_FUZZ_COUNT);
  return Number.isInteger(n) && n > 0 ? n : ciDefault;
}

/** Numbers at the edges that parsers get wrong. */
export const BOUNDARY_NUMBERS: readonly string[] = [
  '0', '1', '-1', '00', '01', '255', '256', '576', '575', '1420', '1500', '65535', '65536', '65537', '2147483647', '2147483648',
  '4294967295', '4294967296', '9007199254740991', '9007199254740993', '1e3', '1.5', '-0', '0x10', '99999999999999999999999',
  '1'.repeat(400), 'NaN', 'Infinity', '', ' 1', '1 ', '+1', '٣', '１',
];

/** Odd characters and fragments for text inputs. */
const ODD: readonly string[] = [
  '\n', '\n\n', '\r\n', '\r', '\t', ' ', '\0', '=', '==', ':', '[', ']', '/', '#', ',', '"', "'", '\\', '{', '}', '\u00e9', '\u2028',
  '\ud800', '\udfff', '\ud83d\ude00', '\ufeff', '\u0085', '%', '..', '-', '.', '*', '&', '!', '@', '~',
];

export class Fuzz {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** [0, 1). */
  rand(): number {
    return this.next() / 0x100000000;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  chance(p: number): boolean {
    return this.rand() < p;
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }

  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }

  hex(nBytes: number): string {
    return Buffer.from(this.bytes(nBytes)).toString('hex');
  }

  /** Random text: printable ASCII, odd characters, any UTF-16 unit. */
  text(maxLen: number): string {
    const n = this.int(maxLen + 1);
    let s = '';
    while (s.length < n) {
      const r = this.rand();
      if (r < 0.7) s += String.fromCharCode(0x20 + this.int(95));
      else if (r < 0.9) s += this.pick(ODD);
      else s += String.fromCharCode(this.int(0x10000));
    }
    return s;
  }

  /**
   * 1..4 mutations of `s`: character flips, deletions, duplications,
   * insertions of `tokens` or odd characters, truncation, splicing with
   * another of `corpus`, numbers swapped for boundary numbers, lines swapped.
   */
  mutateText(s: string, tokens: readonly string[] = [], corpus: readonly string[] = []): string {
    const rounds = 1 + this.int(4);
    for (let r = 0; r < rounds; r++) {
      const op = this.int(11);
      const at = this.int(s.length + 1);
      switch (op) {
        case 0: // replace one character
          s = s.slice(0, at) + String.fromCharCode(this.chance(0.8) ? 0x20 + this.int(95) : this.int(0x10000)) + s.slice(at + 1);
          break;
        case 1: // delete a range
          s = s.slice(0, at) + s.slice(at + 1 + this.int(16));
          break;
        case 2: { // duplicate a range
          const len = 1 + this.int(32);
          s = s.slice(0, at + len) + s.slice(at, at + len) + s.slice(at + len);
          break;
        }
        case 3: // insert a token
          s = s.slice(0, at) + (tokens.length > 0 && this.chance(0.6) ? this.pick(tokens) : this.pick(ODD)) + s.slice(at);
          break;
        case 4: // truncate
          s = s.slice(0, at);
          break;
        case 5: { // splice with another input
          if (corpus.length === 0) break;
          const other = this.pick(corpus);
          s = s.slice(0, at) + other.slice(this.int(other.length + 1));
          break;
        }
        case 6: { // a number becomes a boundary number
          const nums = [...s.matchAll(/\d+/gu)];
          if (nums.length === 0) break;
          const m = this.pick(nums);
          s = s.slice(0, m.index) + this.pick(BOUNDARY_NUMBERS) + s.slice(m.index + m[0].length);
          break;
        }
        case 7: { // swap two lines, or duplicate one
          const lines = s.split('\n');
          const i = this.int(lines.length);
          const j = this.int(lines.length);
          if (this.chance(0.5)) [lines[i], lines[j]] = [lines[j]!, lines[i]!];
          else lines.splice(i, 0, lines[j]!);
          s = lines.join('\n');
          break;
        }
        case 8: // flip one bit of a character
          if (s.length > 0) {
            const i = this.int(s.length);
            s = s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << this.int(8))) + s.slice(i + 1);
          }
          break;
        case 9: // change the case of a range
          s = s.slice(0, at) + (this.chance(0.5) ? s.slice(at, at + 8).toUpperCase() : s.slice(at, at + 8).toLowerCase()) + s.slice(at + 8);
          break;
        default: // random text in the middle
          s = s.slice(0, at) + this.text(12) + s.slice(at);
      }
    }
    return s;
  }

  /** 1..4 mutations of `b`: byte and bit flips, truncation, duplication, insertion, splicing, boundary values. */
  mutateBytes(b: Uint8Array, corpus: readonly Uint8Array[] = [], maxLen = 1 << 16): Uint8Array {
    let out: Uint8Array = b.slice();
    const rounds = 1 + this.int(4);
    for (let r = 0; r < rounds; r++) {
      const op = this.int(7);
      const at = this.int(out.length + 1);
      if (op === 0 && out.length > 0) out[this.int(out.length)] = this.next() & 0xff;
      else if (op === 1 && out.length > 0) out[this.int(out.length)]! ^= 1 << this.int(8);
      else if (op === 2) out = out.slice(0, at);
      else if (op === 3) {
        const len = 1 + this.int(64);
        out = concat(out.subarray(0, at + len), out.subarray(at, at + len), out.subarray(at + len));
      } else if (op === 4) out = concat(out.subarray(0, at), this.bytes(1 + this.int(16)), out.subarray(at));
      else if (op === 5 && corpus.length > 0) {
        const other = this.pick(corpus);
        out = concat(out.subarray(0, at), other.subarray(this.int(other.length + 1)));
      } else if (out.length > 0) {
        // A boundary value in a 1, 2 or 4 byte field.
        const i = this.int(out.length);
        const v = this.pick([0, 0xff, 0x7f, 0x80, 0xffff, 0x8000, 0xffffffff, 0x80000000, 1]);
        const w = this.pick([1, 2, 4]);
        for (let k = 0; k < w && i + k < out.length; k++) out[i + k] = (v >>> (8 * (w - 1 - k))) & 0xff;
      }
    }
    return out.length > maxLen ? out.subarray(0, maxLen) : out;
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A cheap assertion for the hot loops (expect() costs more than the parser). */
export function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

/**
 * The part of net.Socket the control and UAPI servers use: records what they
 * write and whether they ended or destroyed it. A write after end() fails the
 * test, and so does one after destroy() unless `writesAfterDestroy` allows it.
 */
export class FakeSocket extends EventEmitter {
  out = '';
  ended = false;
  destroyed = false;

  constructor(private readonly options: { writesAfterDestroy?: boolean } = {}) {
    super();
  }

  setEncoding(): this {
    return this;
  }
  write(s: string): boolean {
    check((this.options.writesAfterDestroy === true || !this.destroyed) && !this.ended, 'write after end');
    this.out += s;
    return true;
  }
  end(s?: string): this {
    if (s !== undefined) this.write(s);
    this.ended = true;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}
