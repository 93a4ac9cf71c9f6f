/**
 * Listening on a unix stream socket the way a daemon should: create the
 * directory, refuse to start while another process serves the path (a live
 * socket answers a connect), replace a stale socket file left by a process
 * that died, and remove the file on close. Used by the WireGuard UAPI socket
 * and weft's control socket.
 *
 * Permissions never come from the umask: whoever can connect to the UAPI
 * socket can read the private key (get=1) and replace the peers (set=1), so
 * a socket is created under umask 077 (no moment where it is
 * world-accessible) and then given its mode explicitly, and so are the
 * directories made for it.
 */
import { chmodSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { dirname, join, relative, sep } from 'node:path';
import { WeftError } from '../errors.ts';

/** True when a process accepts connections on `path`. Pathname sockets are found through the filesystem, so this sees a listener in any network namespace. */
export function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Create `dir` and its missing parents with exactly `mode` (not mode minus
 * the umask). Directories that exist already keep theirs (they may be /tmp
 * or /run), but one any user may write to without the sticky bit is refused:
 * anyone could swap the socket or file in it for their own.
 */
export function makeDirs(dir: string, mode: number): void {
  const first = mkdirSync(dir, { recursive: true, mode });
  if (first !== undefined) {
    // mkdir applied the umask: set the mode on each directory it made, top down.
    let path = first;
    chmodSync(path, mode);
    for (const part of relative(first, dir).split(sep).filter((p) => p.length > 0)) {
      path = join(path, part);
      chmodSync(path, mode);
    }
    return;
  }
  const st = statSync(dir);
  if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) {
    throw new WeftError('DIR_UNSAFE', `directory ${dir} is writable by every user (mode ${(st.mode & 0o7777).toString(8)}), so anyone could replace what weft puts there; chmod ${mode.toString(8)} ${dir}`);
  }
}

export interface UnixListener {
  readonly path: string;
  close(): Promise<void>;
}

export interface UnixListenOptions {
  /** The socket file's mode. Default 0600: the owner (root) only. */
  mode?: number;
  /** The mode of directories created for it. Default 0755. */
  dirMode?: number;
}

/** Serve `path`; `inUse` is the message when another process already does. */
export async function listenUnix(path: string, onConnection: (socket: Socket) => void, inUse: string, options: UnixListenOptions = {}): Promise<UnixListener> {
  const mode = options.mode ?? 0o600;
  makeDirs(dirname(path), options.dirMode ?? 0o755);
  if (await isLive(path)) throw new WeftError('SOCKET_IN_USE', inUse);
  try {
    unlinkSync(path);
  } catch {
    // no stale file
  }
  const server: Server = createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new WeftError('SOCKET_LISTEN_FAILED', `cannot listen on ${path}: ${err.message}`, { cause: err })));
    // bind(2) runs synchronously inside listen() for a path outside a
    // cluster worker, so the umask covers exactly the moment the file appears.
    const umask = process.umask(0o077);
    try {
      server.listen(path, () => resolve());
    } finally {
      process.umask(umask);
    }
  });
  chmodSync(path, mode);
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      }),
  };
}
