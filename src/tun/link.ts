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
import { parseCidr } from '../wire/addr.ts';
import type { Cidr } from '../wire/addr.ts';
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

/**
 * CIDR text through weft's one address parser (src/wire/addr.ts), or null.
 * `strict` refuses host bits, as a route destination must; an interface
 * address keeps them (10.203.0.1/24).
 */
function cidrOrNull(text: string, strict: boolean): Cidr | null {
  try {
    return parseCidr(text, { strict });
  } catch {
    return null;
  }
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
    if (cidrOrNull(cidr, false) === null) {
      throw new WeftError('LINK_CONFIG', `address for ${this.name} must be CIDR like 10.244.1.1/24, got ${JSON.stringify(cidr)}`);
    }
    await this.ip(['address', 'add', cidr, 'dev', this.name]);
    this.addresses.push(cidr);
  }

  /** Remove an address this Link added (a node re-addressed after its subnet moved). Gone already is fine. */
  async removeAddress(cidr: string): Promise<void> {
    await this.ipIgnoringGone(['address', 'del', cidr, 'dev', this.name]);
    const i = this.addresses.indexOf(cidr);
    if (i >= 0) this.addresses.splice(i, 1);
  }

  /** Route `cidr` (a network address, e.g. '10.244.0.0/16') out of this interface. */
  async addRoute(cidr: string, options: RouteOptions = {}): Promise<void> {
    const parsed = cidrOrNull(cidr, true);
    if (parsed === null) {
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
    if (cidrOrNull(cidr, false) === null) {
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
