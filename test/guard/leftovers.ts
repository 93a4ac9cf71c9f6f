/**
 * The suite's own check that every test cleaned up after itself: vitest's
 * global setup notes what exists before the run (network namespaces,
 * network devices, sockets in weft's and WireGuard's run directories), and
 * the teardown lists what the run left behind, removes it, and fails the
 * run. Processes are found by a tag in their environment, which every
 * process the tests start inherits (`ip netns exec` keeps the environment).
 *
 * Other runs on the same machine are left alone: a namespace named for a
 * live process that is not ours (NetnsSandbox names them weft-t-<pid>-n)
 * belongs to that run. Namespaces and devices with other names (the cluster
 * lab's, podman's) cannot be told apart by name, so each run registers in
 * RUNS_DIR; while another registered run is alive, what this run cannot
 * attribute to itself is reported as a note and left to its owner. CI runs
 * alone, so there every leftover fails the run.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive } from '../../scripts/lab/netns.ts';

const RUN_TAG = 'WEFT_TEST_RUN';
const SOCKET_DIRS = ['/var/run/wireguard', '/run/weft'];
/** One file per test run in progress, named for its pid. */
const RUNS_DIR = '/run/weft-test-runs';

/** Other test runs alive now (registered in RUNS_DIR). */
function otherRuns(): number[] {
  let names: string[] = [];
  try {
    names = readdirSync(RUNS_DIR);
  } catch {
    return [];
  }
  return names.map(Number).filter((pid) => Number.isInteger(pid) && pid !== process.pid && alive(pid));
}

/** Pids of the processes inside a network namespace. */
function pidsIn(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter((l) => l.length > 0).map(Number);
  } catch {
    return [];
  }
}

function netnsList(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.length > 0);
  } catch {
    return [];
  }
}

function links(): string[] {
  try {
    return readdirSync('/sys/class/net');
  } catch {
    return [];
  }
}

function sockets(): Map<string, number> {
  const out = new Map<string, number>();
  for (const dir of SOCKET_DIRS) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      const path = join(dir, n);
      try {
        out.set(path, statSync(path).mtimeMs);
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

/**
 * Unix socket paths and the pids holding them, over every process. /proc/net/unix
 * is per network namespace, so each process's own view (/proc/<pid>/net/unix)
 * names the sockets it holds.
 */
function unixSocketHolders(): Map<string, number[]> {
  const holders = new Map<string, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const inodes = new Set<string>();
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/u.exec(readlinkOrEmpty(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      }
      if (inodes.size === 0) continue;
      for (const line of readFileSync(`/proc/${pid}/net/unix`, 'latin1').split('\n')) {
        const f = line.trim().split(/\s+/u);
        if (f.length >= 8 && inodes.has(f[6]!)) holders.set(f[7]!, [...(holders.get(f[7]!) ?? []), pid]);
      }
    } catch {
      // exited, or not readable
    }
  }
  return holders;
}

function readlinkOrEmpty(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

function isTagged(pid: number, tag: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`${RUN_TAG}=${tag}`);
  } catch {
    return false;
  }
}

/** Processes whose environment carries this run's tag, other than vitest's own. */
function taggedProcesses(tag: string): Array<{ pid: number; cmd: string }> {
  const needle = `${RUN_TAG}=${tag}`;
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (!env.split('\0').includes(needle)) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
      // vitest's own workers carry the tag too; they are not the tests' leftovers.
      if (/vitest/u.test(cmd)) continue;
      found.push({ pid, cmd });
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}

export function setup(): () => void {
  const tag = randomBytes(6).toString('hex');
  process.env[RUN_TAG] = tag;
  const startedMs = Date.now();
  const nsBefore = new Set(netnsList());
  const linksBefore = new Set(links());
  const socketsBefore = sockets();
  mkdirSync(RUNS_DIR, { recursive: true, mode: 0o755 });
  writeFileSync(join(RUNS_DIR, String(process.pid)), `${tag}\n`, { mode: 0o644 });

  return () => {
    rmSync(join(RUNS_DIR, String(process.pid)), { force: true });
    const problems: string[] = [];
    const notes: string[] = [];
    const shared = otherRuns().length > 0;
    for (const p of taggedProcesses(tag)) {
      problems.push(`process ${p.pid} still running: ${p.cmd}`);
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const ns of netnsList()) {
      if (nsBefore.has(ns)) continue;
      const owner = /^weft-t-(\d+)-/u.exec(ns);
      if (owner && alive(Number(owner[1])) && Number(owner[1]) !== process.pid) continue; // another run's
      const ours = owner !== null || pidsIn(ns).some((pid) => isTagged(pid, tag));
      if (shared && !ours) {
        notes.push(`network namespace ${ns}`);
        continue;
      }
      problems.push(`network namespace ${ns}`);
      try {
        execFileSync('ip', ['netns', 'delete', ns]);
      } catch {
        // reported; nothing more to do
      }
    }
    for (const l of links()) {
      // A TUN device lives as long as the process holding it: a leftover one is that
      // process's (reported above), or another run's, which is not ours to touch.
      if (linksBefore.has(l) || existsSync(`/sys/class/net/${l}/tun_flags`)) continue;
      if (shared) {
        notes.push(`network device ${l}`);
        continue;
      }
      problems.push(`network device ${l} in the root namespace`);
      try {
        execFileSync('ip', ['link', 'delete', l]);
      } catch {
        // gone meanwhile
      }
    }
    const holdersByPath = unixSocketHolders();
    for (const [path, mtime] of sockets()) {
      if (socketsBefore.get(path) === mtime || mtime < startedMs) continue;
      // A socket served by a process of another run is that run's (removing it would
      // stop a wireguard-go, which watches its socket file); ours, or no one's, is left over.
      const holders = holdersByPath.get(path) ?? [];
      if (holders.length > 0 && !holders.some((pid) => isTagged(pid, tag))) continue;
      problems.push(`socket ${path}`);
      rmSync(path, { force: true });
    }
    if (notes.length > 0) console.warn(`leftover check: another test run is live, so these were left to it:\n  ${notes.join('\n  ')}`);
    if (problems.length > 0) {
      // vitest reports an error thrown here but still exits 0: set the code too.
      process.exitCode = 1;
      throw new Error(`the test run left these behind (now removed); find the test that made them:\n  ${problems.join('\n  ')}`);
    }
  };
}
