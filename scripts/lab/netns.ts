/**
 * The namespace lab: network namespaces, veth pairs between them and
 * commands run inside them, with teardown that always runs. It is the one
 * lab for everything that builds networks on this machine: the cluster
 * script and the demo (scripts/cluster/topology.ts builds on it), and the
 * integration tests and benches (test/helpers/netns.ts re-exports it).
 *
 * It lives under scripts/ because scripts/ is compiled into dist/ and run by
 * users (npm run cluster, npm run demo), so a script cannot import from
 * test/; tests and benches may import from scripts/.
 *
 *   const sb = new NetnsSandbox();
 *   const ns = await sb.create();                 // 'weft-t-<pid>-<n>', lo up
 *   await sb.veth(nsA, 'eth0', nsB, 'eth0');      // a veth pair between two namespaces
 *   const r = await sb.exec(ns, ['ping', '-c', '1', '10.0.0.2'], { timeoutMs: 5000 });
 *   const p = sb.spawn(ns, ['node', 'server.js']); await p.waitFor(/ready/u, 5000);
 *   await sb.moveLink('weft0', ns);               // move a device from this namespace into ns
 *   ...
 *   afterAll(() => sb.destroy());                 // kills processes, deletes namespaces
 *
 * A sandbox forgets its namespaces when its process ends; the cluster script,
 * whose namespaces outlive the command that made them, names them itself
 * (addNamespace) and removes them by name (deleteNamespace).
 *
 * Commands are argv arrays, never shell strings.
 */
import { spawn as spawnChild } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code; null when the process was killed by a signal (e.g. on timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

export interface ExecOptions {
  /** Kill the command (SIGKILL) after this long. Default 10 s. */
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. */
  input?: string | Uint8Array;
}

/** A long-running process in a namespace. */
export interface SandboxProcess {
  readonly child: ChildProcess;
  /** stdout and stderr received so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout contains `pattern`; rejects if the process exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp | string, timeoutMs: number): Promise<void>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL it (if still running) and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM it, SIGKILL it if it is still running after `graceMs` (default 5 s), and return how it exited. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Run argv (no shell) with a timeout; resolve with its output and exit status. Never rejects. */
export function run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    const child = spawnChild(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ stdout, stderr: `${stderr}${err.message}`, code: null, signal: null, timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, signal, timedOut });
    });
    child.stdin.on('error', () => {
      // the command may exit without reading its input
    });
    child.stdin.end(options.input);
  });
}

/** Like run, but throws (with stderr) unless the command exits 0; returns stdout. `where` prefixes the error. */
export async function runOk(argv: readonly string[], options: ExecOptions = {}, where = ''): Promise<string> {
  const r = await run(argv, options);
  if (r.code !== 0) {
    const why = r.timedOut ? 'timed out' : `exited ${r.code ?? r.signal}`;
    throw new Error(`${where}${argv.join(' ')} ${why}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Run argv inside `ns` and collect its output. Never throws for a non-zero exit: check `code`. */
export function nsExec(ns: string, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return run(['ip', 'netns', 'exec', ns, ...argv], options);
}

/** Like nsExec, but throws (with stderr) unless the command exits 0; returns stdout. */
export async function nsRun(ns: string, argv: readonly string[], options: ExecOptions = {}): Promise<string> {
  const r = await nsExec(ns, argv, options);
  if (r.code !== 0) {
    const why = r.timedOut ? 'timed out' : `exited ${r.code ?? r.signal}`;
    throw new Error(`in ${ns}: ${argv.join(' ')} ${why}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Create namespace `name` and bring its loopback up. The result is `ip netns add`'s: check `code` (stderr says "exists" for a taken name). */
export async function addNamespace(name: string): Promise<ExecResult> {
  const r = await run(['ip', 'netns', 'add', name]);
  if (r.code === 0) await nsRun(name, ['ip', 'link', 'set', 'lo', 'up']);
  return r;
}

/** Create veth pair ifA (in nsA) <-> ifB (in nsB), with `mtu` on both ends when given, and bring both ends up. */
export async function addVeth(nsA: string, ifA: string, nsB: string, ifB: string, mtu?: number): Promise<void> {
  const m = mtu === undefined ? [] : ['mtu', String(mtu)];
  await nsRun(nsA, ['ip', 'link', 'add', ifA, ...m, 'type', 'veth', 'peer', 'name', ifB, ...m, 'netns', nsB]);
  await nsRun(nsA, ['ip', 'link', 'set', ifA, 'up']);
  await nsRun(nsB, ['ip', 'link', 'set', ifB, 'up']);
}

/** The namespaces on this machine (`ip netns list`); empty if it cannot be read. */
export async function listNamespaces(): Promise<string[]> {
  const r = await run(['ip', 'netns', 'list']);
  return r.stdout
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((n) => n.length > 0);
}

/** Is process `pid` still there? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Send `signal` to each pid that is still there. */
export function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Kill whatever still runs in `ns` (a namespace is only freed when no
 * process is left in it), then delete it, which deletes its devices. The
 * result is `ip netns del`'s: check `code`.
 */
export async function deleteNamespace(ns: string): Promise<ExecResult> {
  const pids = await run(['ip', 'netns', 'pids', ns]);
  signalAll(
    pids.stdout
      .split(/\s+/u)
      .filter((p) => /^\d+$/u.test(p))
      .map(Number),
    'SIGKILL',
  );
  return run(['ip', 'netns', 'del', ns]);
}

/** Start a long-running process inside `ns`. */
export function spawnIn(ns: string, argv: readonly string[]): SandboxProcess {
  // `ip netns exec` execs the command, so the child pid is the command itself.
  const child = spawnChild('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: null, signal: null }));
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const matches = (): boolean => (typeof pattern === 'string' ? out.includes(pattern) : pattern.test(out));
        const finish = (error?: Error): void => {
          clearTimeout(timer);
          child.stdout.off('data', check);
          if (error === undefined) resolve();
          else reject(error);
        };
        const check = (): void => {
          if (matches()) finish();
        };
        const timer = setTimeout(
          () => finish(new Error(`${argv.join(' ')}: no ${String(pattern)} on stdout after ${timeoutMs} ms; stderr: ${err.trim()}`)),
          timeoutMs,
        );
        child.stdout.on('data', check);
        void exited.then(({ code, signal }) => {
          if (!matches()) finish(new Error(`${argv.join(' ')} exited (${code ?? signal}) before printing ${String(pattern)}; stderr: ${err.trim()}`));
        });
        check();
      }),
    kill: async () => {
      if (!done) child.kill('SIGKILL');
      await exited;
    },
    stop: async (graceMs = 5000) => {
      if (!done) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const how = await exited;
      clearTimeout(timer);
      return how;
    },
  };
}

let counter = 0;

/**
 * Namespaces and processes owned by one test (or bench) run. Every namespace
 * name starts with `weft-t-<pid>-`, so parallel runs never collide and
 * leftovers of a crashed run are easy to spot (`ip netns list`).
 */
export class NetnsSandbox {
  private readonly namespaces: string[] = [];
  private readonly processes = new Set<SandboxProcess>();
  private readonly cleanups: Array<() => void> = [];

  /** `prefix` starts every namespace name (`<prefix>-<pid>-<n>`); suites that must not meet others' names choose their own. */
  constructor(private readonly prefix = 'weft-t') {}

  /** Namespaces this sandbox created, oldest first. */
  get names(): readonly string[] {
    return this.namespaces;
  }

  /** Create a namespace with a unique name and loopback up; returns its name. */
  async create(): Promise<string> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const name = `${this.prefix}-${process.pid}-${counter++}`;
      const r = await addNamespace(name);
      if (r.code === 0) {
        this.namespaces.push(name);
        return name;
      }
      // A leftover of an earlier run with the same pid: try the next number.
      if (!/exists/iu.test(r.stderr)) throw new Error(`ip netns add ${name} failed: ${r.stderr.trim()}`);
    }
    throw new Error('could not find a free namespace name');
  }

  /** Create veth pair ifA (in nsA) <-> ifB (in nsB) and bring both ends up. */
  veth(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> {
    return addVeth(nsA, ifA, nsB, ifB);
  }

  /** Move device `ifname` from this process's namespace into `ns` (e.g. a TUN device this process opened). */
  async moveLink(ifname: string, ns: string): Promise<void> {
    await runOk(['ip', 'link', 'set', 'dev', ifname, 'netns', ns]);
  }

  /** Run argv inside `ns` and collect its output. Never throws for a non-zero exit: check `code`. */
  exec(ns: string, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return nsExec(ns, argv, options);
  }

  /** Like exec, but throws (with stderr) unless the command exits 0; returns stdout. */
  run(ns: string, argv: readonly string[], options: ExecOptions = {}): Promise<string> {
    return nsRun(ns, argv, options);
  }

  /** Start a long-running process inside `ns`; destroy() kills it if it still runs. */
  spawn(ns: string, argv: readonly string[]): SandboxProcess {
    const proc = spawnIn(ns, argv);
    this.processes.add(proc);
    void proc.exited.then(() => this.processes.delete(proc));
    return proc;
  }

  /** Run `fn` at destroy(), once its processes are dead: for files made beside them (a node's config directory). */
  onDestroy(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /**
   * Kill every process this sandbox started and anything else still running
   * in its namespaces, run the onDestroy clean-ups, then delete the namespaces
   * (which deletes the devices in them). Safe to call more than once and after
   * a failed set-up.
   */
  async destroy(): Promise<void> {
    await Promise.all([...this.processes].map((p) => p.kill()));
    for (const fn of this.cleanups.splice(0)) fn();
    for (const ns of this.namespaces.splice(0)) {
      const r = await deleteNamespace(ns);
      if (r.code !== 0 && !/No such file/iu.test(r.stderr)) {
        throw new Error(`ip netns del ${ns} failed: ${r.stderr.trim()}`);
      }
    }
  }
}
