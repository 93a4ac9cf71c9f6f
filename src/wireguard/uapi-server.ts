/**
 * The UAPI socket: /var/run/wireguard/<iface>.sock, where wg(8) looks for
 * userspace implementations. Each connection may carry several requests;
 * each request is get=1 or set=1 followed by lines and an empty line.
 * The device behind it is an interface, so the backend (or a test) decides
 * what the state is and how a change applies.
 */
import { mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { WeftError } from '../errors.ts';
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

export class UapiServer {
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async listen(iface: string, device: UapiDevice, dir = UAPI_DIR): Promise<UapiServer> {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const path = join(dir, `${iface}.sock`);
    if (await isLive(path)) {
      throw new WeftError('UAPI_IN_USE', `${path} is served by another process: interface name ${iface} is taken; stop it or choose another name`);
    }
    try {
      unlinkSync(path); // a stale socket from a process that died
    } catch {
      // none
    }
    const server = createServer((socket) => serve(socket, device));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new WeftError('UAPI_LISTEN_FAILED', `cannot listen on ${path}: ${err.message}`, { cause: err })));
      server.listen(path, () => resolve());
    });
    return new UapiServer(server, path);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    });
  }
}

function serve(socket: Socket, device: UapiDevice): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > MAX_REQUEST_BYTES) {
      socket.end(`errno=${EINVAL}\n\n`);
      return;
    }
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const request = buffered.slice(0, end).split('\n');
      buffered = buffered.slice(end + 2);
      socket.write(answer(request, device));
    }
  });
}

function answer(lines: string[], device: UapiDevice): string {
  const [op, ...rest] = lines;
  if (op === 'get=1' && rest.length === 0) return formatGet(device.state());
  if (op === 'set=1') {
    const parsed = parseSet(rest);
    if ('errno' in parsed) return `errno=${parsed.errno}\n\n`;
    return `errno=${device.apply(parsed.change)}\n\n`;
  }
  return `errno=${EINVAL}\n\n`;
}
