/**
 * The files `weft up` writes, each with an explicit mode whatever the
 * umask: under `umask 000` a default-mode write would leave a private key
 * readable, or subnet.env writable, by every local user. Modes are set on
 * the open descriptor before a byte is written, so there is no moment when
 * the content is exposed; directories made for them get theirs the same way
 * (makeDirs).
 *
 *   file                       mode   why
 *   <stateDir>/wireguard.key   0600   the node's WireGuard private key
 *   <stateDir>                 0700   keys, gossip identity, subnet lease
 *   subnet.env                 0644   CNI plugins (not root) read it
 *   its directory              0755
 */
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { makeDirs } from '../transport/unix-socket.ts';

export const KEY_FILE_MODE = 0o600;
export const STATE_DIR_MODE = 0o700;
export const SUBNET_ENV_MODE = 0o644;

/**
 * Write `data` to `path` with exactly `mode`. `exclusive` fails if the file
 * exists (a key must never be overwritten); otherwise the write goes to a
 * temporary file renamed into place, so a reader never sees half.
 */
export function writeFileExact(path: string, data: string, mode: number, exclusive = false): void {
  const target = exclusive ? path : `${path}.${process.pid}.tmp`;
  // 'wx' for the key; for the temporary file 'w' with an explicit fchmod,
  // because a leftover of a crashed run with our pid keeps its old mode.
  const fd = openSync(target, exclusive ? 'wx' : 'w', mode & 0o600);
  try {
    fchmodSync(fd, mode);
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (!exclusive) renameSync(target, path);
}

/** A key generated on first start goes to the state directory (0700) as 0600, never over an existing file. */
export function saveGeneratedKey(path: string, keyText: string): void {
  makeDirs(dirname(path), STATE_DIR_MODE);
  writeFileExact(path, `${keyText}\n`, KEY_FILE_MODE, true);
}

/** Write subnet.env (0644, its directory 0755); returns the undo that removes it. */
export function writeSubnetEnv(path: string, text: string): () => void {
  makeDirs(dirname(path), 0o755);
  writeFileExact(path, text, SUBNET_ENV_MODE);
  // A CNI plugin reading subnet.env takes it as "this node is up": it goes when the node does.
  return () => rmSync(path, { force: true });
}
