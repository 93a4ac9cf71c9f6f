/**
 * The UAPI socket: /var/run/wireguard/<iface>.sock, where wg(8) looks for
 * userspace implementations. Each connection may carry several requests;
 * each request is get=1 or set=1 followed by lines and an empty line.
 * The device behind it is an interface, so the backend (or a test) decides
 * what the state is and how a change applies.
 */
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { listenUnix } from '../transport/unix-socket.ts';
import type { UnixListener } from '../transport/unix-socket.ts';
import { EINVAL, formatGet, parseSet } from './uapi.ts';
import type { UapiChange, UapiDeviceState } from './uapi.ts';

export const UAPI_DIR = '/var/run/wireguard';

export interface UapiDevice {
  state(): UapiDeviceState;
  /** Apply a parsed set request; returns 0 or an errno. */
  apply(change: UapiChange): number;
}

/** Bound the text one connection may send before a request ends: a set with thousands of allowed IPs fits. */
const MAX_REQUEST_BYTES = 1 << 20;

export function uapiPath(iface: string, dir = UAPI_DIR): string {
  return join(dir, `${iface}.sock`);
}

export class UapiServer {
  private constructor(private readonly listener: UnixListener) {}

  get path(): string {
    return this.listener.path;
  }

  /**
   * Serve `<dir>/<iface>.sock`. The directory is shared by every network
   * namespace on the machine, so a live socket there may belong to a device
   * in another namespace: `inUse` is the message then (the caller knows
   * which option names the device).
   */
  static async listen(iface: string, device: UapiDevice, dir = UAPI_DIR, inUse?: string): Promise<UapiServer> {
    const path = uapiPath(iface, dir);
    // wireguard-go's modes: the directory 0755, the socket 0700. The socket
    // hands out the private key, so root only.
    const listener = await listenUnix(path, (socket) => serve(socket, device), inUse ?? `${path} is served by another process: interface name ${iface} is taken; stop it or choose another name`, {
      mode: 0o700,
      dirMode: 0o755,
    });
    return new UapiServer(listener);
  }

  close(): Promise<void> {
    return this.listener.close();
  }
}

function serve(socket: Socket, device: UapiDevice): void {
  // An unfinished request, in the chunks it came in: joined only once a chunk
  // completes it, so a request sent a few bytes at a time costs linear time
  // (appending and searching the whole text per chunk was quadratic: a
  // 1 MiB request in 22-byte writes took minutes).
  let parts: string[] = [];
  let size = 0;
  let last = '';
  let refused = false;
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    if (refused) return;
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) {
      refused = true;
      parts = [];
      socket.end(`errno=${EINVAL}\n\n`);
      return;
    }
    // No unfinished part holds "\n\n", so a request ends in this chunk or across its first byte.
    if (!chunk.includes('\n\n') && !(last === '\n' && chunk.startsWith('\n'))) {
      parts.push(chunk);
      if (chunk.length > 0) last = chunk.at(-1)!;
      return;
    }
    parts.push(chunk);
    let buffered = parts.join('');
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const request = buffered.slice(0, end).split('\n');
      buffered = buffered.slice(end + 2);
      socket.write(answer(request, device));
    }
    parts = buffered.length > 0 ? [buffered] : [];
    size = buffered.length;
    last = buffered.at(-1) ?? '';
  });
}

/** One request's answer; a fault in the device is EINVAL to the client, never a throw out of the socket's handler. */
function answer(lines: string[], device: UapiDevice): string {
  try {
    return answerOf(lines, device);
  } catch {
    return `errno=${EINVAL}\n\n`;
  }
}

function answerOf(lines: string[], device: UapiDevice): string {
  const [op, ...rest] = lines;
  if (op === 'get=1' && rest.length === 0) return formatGet(device.state());
  if (op === 'set=1') {
    const parsed = parseSet(rest);
    if ('errno' in parsed) return `errno=${parsed.errno}\n\n`;
    return `errno=${device.apply(parsed.change)}\n\n`;
  }
  return `errno=${EINVAL}\n\n`;
}
