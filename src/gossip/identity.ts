/**
 * The node's signing identity, kept in the state directory so that a
 * restarted node signs with the same key and is recognised as the same node
 * (membership binds each name to the first key it sees). Written atomically
 * (temp file, fsync, rename) with mode 0600: a torn or world-readable key
 * file would be worse than none.
 */
import { mkdirSync, openSync, readFileSync, renameSync, writeSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { WeftError } from '../errors.ts';
import { generateSigningKey, signingPublicKey } from './record.ts';

export const IDENTITY_FILE = 'node.ed25519';

export interface Identity {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function loadOrCreateIdentity(stateDir: string): Identity {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, IDENTITY_FILE);
  let text: string | null = null;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new WeftError('CONFIG_UNREADABLE', `cannot read node identity ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (text !== null) {
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length !== 32 || !/^[A-Za-z0-9+/]{43}=$/.test(text)) {
      throw new WeftError('KEY_INVALID', `node identity ${path} is not a base64 32-byte Ed25519 secret key; move it away to generate a new one`);
    }
    const secretKey = new Uint8Array(bytes);
    return { secretKey, publicKey: signingPublicKey(secretKey) };
  }
  const id = generateSigningKey();
  writeFileAtomic(path, Buffer.from(id.secretKey).toString('base64') + '\n', 0o600);
  return id;
}
