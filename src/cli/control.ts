/**
 * The control socket: /run/weft/<node name>.sock by default. A client
 * writes one JSON request per line ({"cmd":"status"}) and reads one JSON
 * answer per line. Local only (a unix socket, root's directory), so it needs
 * no authentication beyond file permissions.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { WeftError } from '../errors.ts';
import { listenUnix } from '../transport/unix-socket.ts';
import type { UnixListener } from '../transport/unix-socket.ts';

export const CONTROL_DIR = '/run/weft';

export type ControlHandlers = Record<string, () => unknown>;

export function controlPath(nodeName: string): string {
  return `${CONTROL_DIR}/${nodeName}.sock`;
}

export function serveControl(path: string, handlers: ControlHandlers): Promise<UnixListener> {
  return listenUnix(path, (socket) => serve(socket, handlers), `${path} is served by another weft: a node with this name runs already`);
}

function serve(socket: Socket, handlers: ControlHandlers): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > 64 * 1024) return void socket.destroy();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      socket.write(`${JSON.stringify(answer(line, handlers))}\n`);
    }
  });
}

function answer(line: string, handlers: ControlHandlers): unknown {
  let cmd: unknown;
  try {
    cmd = (JSON.parse(line) as { cmd?: unknown }).cmd;
  } catch {
    return { error: 'request must be one line of JSON such as {"cmd":"status"}' };
  }
  const handler = typeof cmd === 'string' ? handlers[cmd] : undefined;
  if (handler === undefined) return { error: `unknown command ${JSON.stringify(cmd)}; known: ${Object.keys(handlers).join(', ')}` };
  try {
    return { ok: handler() };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Ask a running node; rejects with a WeftError that says how to reach it. */
export function request(path: string, cmd: string, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new WeftError('CONTROL_TIMEOUT', `no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ cmd })}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      const reply = JSON.parse(buffered.slice(0, nl)) as { ok?: unknown; error?: string };
      if (reply.error !== undefined) reject(new WeftError('CONTROL_ERROR', reply.error));
      else resolve(reply.ok);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no weft node is running there (start one with weft up, or name it with --node or --socket)' : err.message;
      reject(new WeftError('CONTROL_UNREACHABLE', `cannot reach ${path}: ${why}`, { cause: err }));
    });
  });
}
