/**
 * The client half of a node's control socket (src/cli/control.ts serves
 * it): one JSON request line out, one JSON line back. Here, below the CLI,
 * so that `weft status` and weft-cni's STATUS ask a node the same way.
 */
import { connect } from 'node:net';
import { WeftError } from '../errors.ts';

/**
 * Ask a running node; rejects with a WeftError that says how to reach it.
 * `args` are the command's arguments, sent beside "cmd" (forget's "name").
 */
export function request(path: string, cmd: string, timeoutMs = 5000, args: Record<string, unknown> = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new WeftError('CONTROL_TIMEOUT', `no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ ...args, cmd })}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      let reply: { ok?: unknown; error?: unknown };
      try {
        reply = JSON.parse(buffered.slice(0, nl)) as { ok?: unknown; error?: unknown };
      } catch {
        return reject(new WeftError('CONTROL_ERROR', `${path} answered something other than JSON: is it a weft control socket?`));
      }
      if (typeof reply !== 'object' || reply === null) reject(new WeftError('CONTROL_ERROR', `${path} answered ${JSON.stringify(reply)}: is it a weft control socket?`));
      else if (reply.error !== undefined) reject(new WeftError('CONTROL_ERROR', String(reply.error)));
      else resolve(reply.ok);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no weft node is running there (start one with weft up, or name it with --node or --socket)' : err.message;
      reject(new WeftError('CONTROL_UNREACHABLE', `cannot reach ${path}: ${why}`, { cause: err }));
    });
  });
}
