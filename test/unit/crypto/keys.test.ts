import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decodeKey, encodeKey, generateKeyText, publicKeyText, wipe } from '../../../src/crypto/keys.ts';
import { isWeftError, type WeftError } from '../../../src/errors.ts';

// RFC 7748 section 6.1: Alice's private and public keys, as wg prints keys.
const ALICE_PRIV = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
const ALICE_PUB = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex');

function keyError(text: unknown): WeftError {
  try {
    decodeKey(text as string, 'peer public key');
  } catch (err) {
    if (isWeftError(err, 'KEY_INVALID')) return err;
    throw err;
  }
  throw new Error(`decodeKey accepted ${String(text)}`);
}

describe('wg key text', () => {
  it('encodes 32 bytes as 44 characters of standard base64 with one "="', () => {
    const text = encodeKey(ALICE_PRIV);
    expect(text).toBe('dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=');
    expect(text.length).toBe(44);
    expect(encodeKey(new Uint8Array(32).fill(0xff))).toBe('//////////////////////////////////////////8=');
  });

  it('round-trips bytes -> text -> bytes into a fresh array', () => {
    for (let i = 0; i < 50; i++) {
      const bytes = Uint8Array.from({ length: 32 }, (_, j) => (i * 37 + j * 11) & 0xff);
      const back = decodeKey(encodeKey(bytes), 'key');
      expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
      expect(back.byteOffset).toBe(0);
      expect(back.buffer.byteLength).toBe(32); // not a slice of Node's shared Buffer pool
    }
  });

  it('ignores surrounding whitespace, as in a key file with a trailing newline', () => {
    expect(Buffer.from(decodeKey(`  ${encodeKey(ALICE_PUB)}\n`, 'key')).equals(ALICE_PUB)).toBe(true);
  });

  it('rejects malformed text with KEY_INVALID, naming the key and not echoing it', () => {
    const good = encodeKey(ALICE_PRIV);
    const cases: Array<[unknown, string]> = [
      ['', 'an empty string'],
      [good.slice(0, 43), '43 characters'],
      [good + 'A', '45 characters'],
      [`${good.slice(0, 43)}A`, "44 characters that do not end in '='"],
      [`*${good.slice(1)}`, 'a character outside the base64 alphabet at position 1'],
      [`${good.slice(0, 10)}-${good.slice(11)}`, 'a character outside the base64 alphabet at position 11'],
      [`${good.slice(0, 42)}p=`, "non-canonical base64 (the 43rd character's unused low bits are set)"],
      [`${good.slice(0, 40)}====`, 'a character outside the base64 alphabet at position 41'],
      [undefined, 'a undefined'],
      [null, 'a null'],
      [42, 'a number'],
    ];
    for (const [text, got] of cases) {
      const err = keyError(text);
      expect(err.message).toBe(
        `peer public key must be 32 bytes in base64 (44 characters, as wg genkey prints), got ${got}`,
      );
      if (typeof text === 'string' && text.length > 8) expect(err.message).not.toContain(text.slice(2, 30));
    }
  });

  it('refuses to encode anything but 32 bytes', () => {
    expect(() => encodeKey(new Uint8Array(31))).toThrow(/32 bytes/);
  });

  it('derives the public key text of a private key text (RFC 7748 Alice)', () => {
    expect(publicKeyText(encodeKey(ALICE_PRIV))).toBe(encodeKey(ALICE_PUB));
  });

  it('generates clamped private keys like wg genkey', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const text = generateKeyText();
      const k = decodeKey(text, 'private key');
      expect(k[0]! & 7).toBe(0);
      expect(k[31]! & 0x80).toBe(0);
      expect(k[31]! & 0x40).toBe(0x40);
      seen.add(text);
    }
    expect(seen.size).toBe(20);
  });

  it('wipes key material', () => {
    const k = decodeKey(encodeKey(ALICE_PRIV), 'private key');
    wipe(k);
    expect(k.every((b) => b === 0)).toBe(true);
  });
});

// The wg tool (wireguard-tools) computes public keys in C, independently of
// @noble/curves. CI installs it, so there the test must run, never skip.
const hasWg = spawnSync('wg', ['--version'], { stdio: 'ignore' }).status === 0;

describe('agreement with the wg tool', () => {
  it.skipIf(!hasWg && process.env.CI !== 'true')('publicKeyText equals `wg pubkey` for keys from wg genkey and from weft', () => {
    const wg = (args: string[], input?: string): string =>
      execFileSync('wg', args, input === undefined ? { encoding: 'utf8' } : { encoding: 'utf8', input }).trim();
    for (let i = 0; i < 5; i++) {
      const fromWg = wg(['genkey']);
      expect(publicKeyText(fromWg)).toBe(wg(['pubkey'], fromWg));
      const fromWeft = generateKeyText();
      expect(publicKeyText(fromWeft)).toBe(wg(['pubkey'], fromWeft));
    }
    // An unclamped private key: both sides clamp before multiplying.
    const raw = encodeKey(new Uint8Array(32).fill(0xff));
    expect(publicKeyText(raw)).toBe(wg(['pubkey'], raw));
  });
});
