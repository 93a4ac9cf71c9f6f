/**
 * Listening on a unix stream socket the way a daemon should: create the
 * directory, refuse to start while another process serves the path (a live
 * socket answers a connect), replace a stale socket file left by a process
 * that died, and remove the file on close. Used by the WireGuard UAPI socket
 * and weft's control socket.
 */
import { mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { dirname } from 'node:path';
import { WeftError } from '../errors.ts';

function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface UnixListener {
  readonly path: string;
  close(): Promise<void>;
}

/** Serve `path`; `inUse` is the message when another process already does. */
export async function listenUnix(path: string, onConnection: (socket: Socket) => void, inUse: string): Promise<UnixListener> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (await isLive(path)) throw new WeftError('SOCKET_IN_USE', inUse);
  try {
    unlinkSync(path);
  } catch {
    // no stale file
  }
  const server: Server = createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new WeftError('SOCKET_LISTEN_FAILED', `cannot listen on ${path}: ${err.message}`, { cause: err })));
    server.listen(path, () => resolve());
  });
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
