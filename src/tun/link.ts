/**
 * Link: configures a network interface through iproute2's `ip` command
 * (asynchronously, never through a shell), optionally inside a network
 * namespace (`ip -n <netns> ...`).
 *
 * Why iproute2 and not netlink from the addon: set-up happens a handful of
 * times per run, `ip` is on every host weft targets, and its error text
 * ("RTNETLINK answers: File exists") is what operators already know.
 *
 * A Link remembers every address and route it added; close() removes exactly
 * those (not ones others configured), ignoring the ones already gone, and can
 * be called any number of times. It does not change the link's up/down state
 * or MTU back, and never deletes the interface.
 */
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { basename } from 'node:path';
import { WeftError } from '../errors.ts';
import { MAX_IFNAME_BYTES } from './tun-device.ts';

export interface LinkOptions {
  /** Network namespace (a name under /run/netns) to run every command in. */
  netns?: string;
  /** Path of the ip binary. Default 'ip' (found on PATH). */
  ipPath?: string;
}

export interface RouteOptions {
  via?: string;
  src?: string;
  metric?: number;
}

interface AddedRoute {
  cidr: string;
  metric: number | undefined;
}

/** A single `ip` invocation may take this long before it is killed. */
const IP_TIMEOUT_MS = 10_000;

/**
 * stderr of `ip ... del` that means "already gone": the route, the address,
 * the whole device (a TUN device vanishes with its last fd, taking its
 * addresses and routes with it) or the whole namespace.
 */
const GONE =
  /No such process|Cannot assign requested address|Cannot find device|does not exist|No such device|Address not found|Cannot open network namespace/u;

export interface ParsedCidr {
  family: 4 | 6;
  address: string;
  prefix: number;
}

/** Parse 'a.b.c.d/n' or an IPv6 'x::y/n'; null when it is not CIDR syntax. */
export function parseCidr(cidr: string): ParsedCidr | null {
  const slash = cidr.indexOf('/');
  if (slash < 0) return null;
  const address = cidr.slice(0, slash);
  const prefixText = cidr.slice(slash + 1);
  const family = isIP(address);
  if (family !== 4 && family !== 6) return null;
  if (!/^\d{1,3}$/u.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return null;
  return { family, address, prefix };
}

/** True when the bits of `address` after the prefix are all zero (required of a route destination). */
export function isNetworkAddress(parsed: ParsedCidr): boolean {
  const bytes = addressBytes(parsed);
  for (let bit = parsed.prefix; bit < bytes.length * 8; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

function addressBytes(parsed: ParsedCidr): number[] {
  if (parsed.family === 4) return parsed.address.split('.').map(Number);
  // Expand '::' and any embedded IPv4 tail into 8 groups of 16 bits.
  let text = parsed.address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/u.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

function checkName(what: string, name: string): void {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    Buffer.byteLength(name) > (what === 'interface' ? MAX_IFNAME_BYTES : 255) ||
    name === '.' ||
    name === '..' ||
    /[/:\s\0]/u.test(name) ||
    name.startsWith('-')
  ) {
    throw new WeftError('LINK_CONFIG', `invalid ${what} name ${JSON.stringify(name)}`);
  }
}

export class Link {
  readonly name: string;
  readonly netns: string | undefined;
  private readonly ipPath: string;
  private readonly addresses: string[] = [];
  private readonly routes: AddedRoute[] = [];

  constructor(name: string, options: LinkOptions = {}) {
    checkName('interface', name);
    if (options.netns !== undefined) checkName('network namespace', options.netns);
    this.name = name;
    this.netns = options.netns;
    this.ipPath = options.ipPath ?? 'ip';
  }

  async setMtu(mtu: number): Promise<void> {
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new WeftError('LINK_CONFIG', `MTU of ${this.name} must be an integer from 68 to 65535, got ${mtu}`);
    }
    await this.ip(['link', 'set', 'dev', this.name, 'mtu', String(mtu)]);
  }

  async setUp(): Promise<void> {
    await this.ip(['link', 'set', 'dev', this.name, 'up']);
  }

  async setDown(): Promise<void> {
    await this.ip(['link', 'set', 'dev', this.name, 'down']);
  }

  /** Add an interface address such as '10.244.1.0/32' or '10.203.0.1/24'. */
  async addAddress(cidr: string): Promise<void> {
    if (parseCidr(cidr) === null) {
      throw new WeftError('LINK_CONFIG', `address for ${this.name} must be CIDR like 10.244.1.1/24, got ${JSON.stringify(cidr)}`);
    }
    await this.ip(['address', 'add', cidr, 'dev', this.name]);
    this.addresses.push(cidr);
  }

  /** Route `cidr` (a network address, e.g. '10.244.0.0/16') out of this interface. */
  async addRoute(cidr: string, options: RouteOptions = {}): Promise<void> {
    const parsed = parseCidr(cidr);
    if (parsed === null || !isNetworkAddress(parsed)) {
      throw new WeftError(
        'LINK_CONFIG',
        `route destination must be a network in CIDR form with no host bits set, like 10.244.0.0/16; got ${JSON.stringify(cidr)}`,
      );
    }
    const args = ['route', 'add', cidr, 'dev', this.name];
    for (const key of ['via', 'src'] as const) {
      const addr = options[key];
      if (addr === undefined) continue;
      if (isIP(addr) !== parsed.family) {
        throw new WeftError('LINK_CONFIG', `route ${cidr}: ${key} must be an IPv${parsed.family} address, got ${JSON.stringify(addr)}`);
      }
      args.push(key, addr);
    }
    const metric = options.metric;
    if (metric !== undefined) {
      if (!Number.isInteger(metric) || metric < 0 || metric > 0xffffffff) {
        throw new WeftError('LINK_CONFIG', `route ${cidr}: metric must be an integer from 0 to 4294967295, got ${metric}`);
      }
      args.push('metric', String(metric));
    }
    await this.ip(args);
    this.routes.push({ cidr, metric });
  }

  /**
   * Remove the route(s) to `cidr` this Link added, or, if it added none, the
   * route to `cidr` through this interface. Not finding it is not an error.
   */
  async removeRoute(cidr: string): Promise<void> {
    if (parseCidr(cidr) === null) {
      throw new WeftError('LINK_CONFIG', `route destination must be CIDR like 10.244.0.0/16, got ${JSON.stringify(cidr)}`);
    }
    const mine = this.routes.filter((r) => r.cidr === cidr);
    const targets: AddedRoute[] = mine.length > 0 ? mine : [{ cidr, metric: undefined }];
    for (const route of targets) {
      await this.deleteRoute(route);
      const i = this.routes.indexOf(route);
      if (i >= 0) this.routes.splice(i, 1);
    }
  }

  /** Remove every route, then every address, this Link added. Idempotent. */
  async close(): Promise<void> {
    // Take the lists first: a second close() running concurrently finds them empty.
    const routes = this.routes.splice(0).reverse();
    const addresses = this.addresses.splice(0).reverse();
    let firstError: unknown;
    for (const route of routes) {
      await this.deleteRoute(route).catch((err: unknown) => {
        firstError ??= err;
      });
    }
    for (const cidr of addresses) {
      await this.ipIgnoringGone(['address', 'del', cidr, 'dev', this.name]).catch((err: unknown) => {
        firstError ??= err;
      });
    }
    if (firstError !== undefined) throw firstError;
  }

  private deleteRoute(route: AddedRoute): Promise<void> {
    const args = ['route', 'del', route.cidr, 'dev', this.name];
    if (route.metric !== undefined) args.push('metric', String(route.metric));
    return this.ipIgnoringGone(args);
  }

  private async ipIgnoringGone(args: string[]): Promise<void> {
    try {
      await this.ip(args);
    } catch (err) {
      if (err instanceof WeftError && GONE.test(err.message)) return;
      throw err;
    }
  }

  /** Run `ip [-n netns] args...`; WeftError('LINK_FAILED') with ip's stderr on failure. */
  private ip(args: string[]): Promise<void> {
    const argv = this.netns === undefined ? args : ['-n', this.netns, ...args];
    const command = `${basename(this.ipPath)} ${argv.join(' ')}`;
    return new Promise((resolve, reject) => {
      execFile(this.ipPath, argv, { timeout: IP_TIMEOUT_MS, encoding: 'utf8' }, (err, _stdout, stderr) => {
        if (err === null) {
          resolve();
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean };
        let reason: string;
        if (e.code === 'ENOENT') reason = `${this.ipPath} not found; install iproute2`;
        else if (e.killed === true) reason = `timed out after ${IP_TIMEOUT_MS} ms`;
        else reason = stderr.trim() || e.message;
        reject(
          new WeftError('LINK_FAILED', `${command} failed: ${reason}`, {
            cause: err,
            ...(typeof e.code === 'string' ? { errno: e.code } : {}),
          }),
        );
      });
    });
  }
}
