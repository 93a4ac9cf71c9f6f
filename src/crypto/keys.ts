/**
 * WireGuard's key text: standard base64 (RFC 4648 section 4, with padding)
 * of the 32 key bytes, so always 44 characters ending in one '='. This is
 * what `wg genkey`, `wg pubkey` and wg-quick configs use, and what weft's
 * config and node records carry.
 *
 * Decoding is as strict as wg: exactly 44 characters from the base64
 * alphabet, a single '=', and the 43rd character canonical (its 2 bits past
 * the 256th are zero; wg rejects "...Hh9=" where "...Hh8=" is canonical).
 * Node's Buffer base64 decoder skips bad characters silently, so the shape is
 * checked first. Surrounding whitespace (a trailing newline in a key file) is
 * ignored. Error messages never echo the text: it may be a private key.
 */
import { WeftError } from '../errors.ts';
import { generatePrivateKey, publicKey, X25519_KEY_LEN } from './x25519.ts';

export const KEY_TEXT_LEN = 44;
const KEY_TEXT = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const B64_CHAR = /^[A-Za-z0-9+/]$/;

/** Overwrite key material with zeros once it is no longer needed. */
export function wipe(bytes: Uint8Array): void {
  bytes.fill(0);
}

/** 32 key bytes -> 44-character base64. */
export function encodeKey(bytes: Uint8Array): string {
  if (bytes.length !== X25519_KEY_LEN) {
    throw new WeftError('KEY_INVALID', `a key is ${X25519_KEY_LEN} bytes, got ${bytes.length}`);
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}

/** Why `text` is not a key, in words that do not reveal it. */
function describe(text: unknown): string {
  if (typeof text !== 'string') return `a ${text === null ? 'null' : typeof text}`;
  const t = text.trim();
  if (t.length === 0) return 'an empty string';
  if (t.length !== KEY_TEXT_LEN) return `${t.length} characters`;
  for (let i = 0; i < 43; i++) {
    if (!B64_CHAR.test(t[i]!)) return `a character outside the base64 alphabet at position ${i + 1}`;
  }
  if (t[43] !== '=') return "44 characters that do not end in '='";
  return "non-canonical base64 (the 43rd character's unused low bits are set)";
}

/**
 * 44-character base64 -> a fresh 32-byte array. `what` names the key for the
 * error ("peer public key", "private key in /etc/weft/key").
 */
export function decodeKey(text: string, what: string): Uint8Array {
  const t = typeof text === 'string' ? text.trim() : '';
  if (!KEY_TEXT.test(t)) {
    throw new WeftError(
      'KEY_INVALID',
      `${what} must be 32 bytes in base64 (44 characters, as wg genkey prints), got ${describe(text)}`,
    );
  }
  // Buffer.from may hand back a slice of Node's shared pool; copy the key
  // into memory of its own and wipe the pooled bytes.
  const tmp = Buffer.from(t, 'base64');
  const out = new Uint8Array(X25519_KEY_LEN);
  out.set(tmp);
  tmp.fill(0);
  return out;
}

/** A new private key as text, like `wg genkey`: random, clamped, base64. */
export function generateKeyText(): string {
  const key = generatePrivateKey();
  const text = encodeKey(key);
  wipe(key);
  return text;
}

/**
 * The public key of a private key text, like `wg pubkey`. The private key
 * need not be clamped: X25519 clamps, and so does wg.
 */
export function publicKeyText(privateText: string): string {
  const priv = decodeKey(privateText, 'private key');
  const pub = publicKey(priv);
  wipe(priv);
  return encodeKey(pub);
}

