/**
 * iproute2 for weft-cni: `ip` on the host, and `ip` inside the container's
 * network namespace through util-linux's `nsenter --net=<path>` (`ip -n`
 * takes only names under /run/netns, and a runtime hands over any path).
 *
 * A runtime may run a plugin with no PATH at all (SPEC.md defines only the
 * CNI_* variables), so both tools are found at their absolute paths and run
 * with an empty environment: nothing depends on what the caller exported.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CniError, ErrorCode } from './spec.ts';

const IP_PATHS = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];
const NSENTER_PATHS = ['/usr/bin/nsenter', '/bin/nsenter', '/usr/sbin/nsenter', '/sbin/nsenter'];

function find(paths: readonly string[], pkg: string): string {
  const found = paths.find((p) => existsSync(p));
  if (found === undefined) throw new CniError(ErrorCode.LINK_FAILED, `${pkg} is not installed`, `weft-cni runs ${paths[0]} (looked in ${paths.join(', ')}); install ${pkg} on this node`);
  return found;
}

export interface IpRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The devices and addresses of one namespace: the host's (netns undefined) or a container's. */
export class IpCommand {
  private readonly ip = find(IP_PATHS, 'iproute2');
  private readonly nsenter: string | undefined;

  constructor(readonly netns?: string) {
    this.nsenter = netns === undefined ? undefined : find(NSENTER_PATHS, 'util-linux (nsenter)');
  }

  private argv(args: readonly string[]): [string, string[]] {
    return this.nsenter === undefined ? [this.ip, [...args]] : [this.nsenter, [`--net=${this.netns}`, this.ip, ...args]];
  }

  /** Run `ip ARGS`; never throws, the caller reads `code`. */
  run(args: readonly string[], input?: string): IpRun {
    const [file, argv] = this.argv(args);
    const r = spawnSync(file, argv, { env: {}, encoding: 'utf8', input: input ?? '', timeout: 10_000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? r.error.message : '') };
  }

  /** Run `ip ARGS` and fail with error 102 and what ip said, unless it succeeds. */
  ok(args: readonly string[], what: string): string {
    const r = this.run(args);
    if (r.code !== 0) throw this.failure(what, args, r);
    return r.stdout;
  }

  /** Several commands in one `ip -batch -`, in order; stops at the first that fails. */
  batch(lines: readonly string[], what: string): void {
    const r = this.run(['-batch', '-'], `${lines.join('\n')}\n`);
    if (r.code !== 0) throw this.failure(what, ['-batch', '-'], r, lines);
  }

  /** `ip -j ARGS` parsed; [] when the object does not exist (a device not found). */
  json(args: readonly string[]): Array<Record<string, unknown>> {
    const r = this.run(['-j', ...args]);
    if (r.code !== 0) return [];
    try {
      const j = JSON.parse(r.stdout === '' ? '[]' : r.stdout) as unknown;
      return Array.isArray(j) ? (j as Array<Record<string, unknown>>) : [];
    } catch {
      return [];
    }
  }

  private failure(what: string, args: readonly string[], r: IpRun, lines?: readonly string[]): CniError {
    const where = this.netns === undefined ? 'on the host' : `in ${this.netns}`;
    const command = lines === undefined ? `ip ${args.join(' ')}` : `ip -batch with: ${lines.join('; ')}`;
    return new CniError(ErrorCode.LINK_FAILED, what, `${command} ${where} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  }
}

/** Whether ip's error text says the object is already there. */
export function saysExists(r: IpRun): boolean {
  return /File exists/u.test(r.stderr);
}
