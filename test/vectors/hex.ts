/** Hex helpers for the known-answer tests: vectors are typed as the specs print them. */

/** Hex (whitespace, colons and line breaks ignored, as RFCs lay bytes out) -> bytes. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex vector: ${text.slice(0, 40)}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Bytes a, a+1, ..., b (inclusive), the way RFC vectors describe ranges like 0x00..0x0c. */
export function range(a: number, b: number): Uint8Array {
  return Uint8Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

export function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
