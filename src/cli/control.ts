/**
 * The control socket: /run/weft/<node name>.sock by default. A client
 * writes one JSON request per line ({"cmd":"status"}) and reads one JSON
 * answer per line. Local only (a unix socket, root's directory), so it needs
 * no authentication beyond file permissions.
 */
import type { Socket } from 'node:net';
import { controlInUse } from './config-checks.ts';
import { listenUnix } from '../transport/unix-socket.ts';
import type { UnixListener } from '../transport/unix-socket.ts';

export const CONTROL_DIR = '/run/weft';

/** Each command's handler gets the whole request object (a command's arguments are its other fields). */
export type ControlHandlers = Record<string, (request?: Record<string, unknown>) => unknown>;

export function controlPath(nodeName: string): string {
  return `${CONTROL_DIR}/${nodeName}.sock`;
}

export function serveControl(path: string, handlers: ControlHandlers): Promise<UnixListener> {
  // 0600: status shows keys' public halves and every peer; root only.
  return listenUnix(path, (socket) => serve(socket, handlers), controlInUse(path), { mode: 0o600, dirMode: 0o755 });
}

/** A request line may be this long; a longer one is answered with an error and the connection closed. */
const MAX_LINE_BYTES = 64 * 1024;

function serve(socket: Socket, handlers: ControlHandlers): void {
  // Own properties only: a plain object's prototype would otherwise make
  // "constructor", "toString" or "__proto__" answerable commands.
  const table = new Map(Object.entries(handlers));
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      socket.write(`${reply(line, table)}\n`);
    }
    if (buffered.length > MAX_LINE_BYTES) {
      buffered = '';
      socket.end(`${JSON.stringify({ error: `request longer than ${MAX_LINE_BYTES} bytes without a newline` })}\n`);
    }
  });
}

/** One request line in, one JSON line out; never throws, whatever the bytes or the handler's result. */
function reply(line: string, table: ReadonlyMap<string, ControlHandlers[string]>): string {
  const answer = answerFrom(line, table);
  try {
    return JSON.stringify(answer);
  } catch (err) {
    return JSON.stringify({ error: `the answer cannot be sent as JSON: ${(err as Error).message}` });
  }
}

function answerFrom(line: string, table: ReadonlyMap<string, ControlHandlers[string]>): { ok: unknown } | { error: string } {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return { error: 'request must be one line of JSON such as {"cmd":"status"}' };
  }
  const cmd = typeof request === 'object' && request !== null && !Array.isArray(request) && Object.hasOwn(request, 'cmd') ? (request as { cmd: unknown }).cmd : undefined;
  if (typeof cmd !== 'string') return { error: 'request must be a JSON object with a string "cmd", such as {"cmd":"status"}' };
  const handler = table.get(cmd);
  if (handler === undefined) return { error: `unknown command ${JSON.stringify(cmd)}; known: ${[...table.keys()].join(', ')}` };
  try {
    return { ok: handler(request as Record<string, unknown>) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** The answer to one request line, as the socket would send it (parsed back); for tests and fuzzing. */
export function answerLine(line: string, handlers: ControlHandlers): unknown {
  return JSON.parse(reply(line, new Map(Object.entries(handlers)))) as unknown;
}
