/**
 * Real containers in the lab: podman (Debian's, with its CNI network
 * backend) running containers made from a local busybox-static root
 * filesystem, attached to a weft node through weft-cni. Used by the cluster
 * script (`up --containers`) and the podman integration test.
 *
 * Each node gets a podman of its own, sharing nothing with the machine's:
 *
 *   <dir>/containers.conf   this podman's config (CONTAINERS_CONF), see below
 *   <dir>/storage, run, tmp its storage root, run root and libpod tmp dir
 *   <dir>/net.d             its CNI config dir, holding the conflist weft writes
 *
 * and runs inside the node's network namespace (nsenter --net): the CNI
 * specification runs plugins "in the runtime's networking domain", so the
 * host end of each container's veth lands in the node, as it would on a
 * machine where weft and podman share the root namespace.
 *
 * Nothing is pulled: `--rootfs` runs a directory, so no image store is
 * needed, and the storage driver is vfs (no overlay mounts to leave behind).
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { run, runOk } from './netns.ts';
import type { ExecOptions, ExecResult } from './netns.ts';

/** The CNI plugins Debian ships (containernetworking-plugins), for portmap and friends after weft. */
export const DEBIAN_CNI_DIR = '/usr/lib/cni';
const BUSYBOX = '/bin/busybox';
/**
 * Applets the containers use: a shell, ping, an HTTP server and nc as its
 * client for a TCP stream, and checks. Not wget: the static busybox's wget
 * crashes in glibc's resolver (static NSS) even for a literal address.
 */
const APPLETS = ['sh', 'sleep', 'ping', 'httpd', 'nc', 'printf', 'tail', 'md5sum', 'ip', 'cat', 'ls', 'wc'];
/** The file the containers serve over HTTP: a TCP stream of this many bytes crosses nodes. */
export const BLOB_BYTES = 4 * 1024 * 1024;
/** The container's main process: serve /www on port 8080 in the foreground until removed. */
export const HTTP_PORT = 8080;

export interface PodmanHost {
  /** This podman's private directory (config, storage, CNI config). */
  dir: string;
  /** The network namespace it runs in: the weft node's. */
  netns: string;
}

/**
 * Why each line of containers.conf is there:
 * - default_ulimits = []: podman sets RLIMIT_NOFILE for containers by default,
 *   which sandboxes like this machine's refuse ("operation not permitted").
 * - runtime = "runc": crun fails on a hybrid cgroup hierarchy (v1 controllers
 *   with a v2 mount), which runc handles; cgroupfs, since there may be no systemd.
 * - network_backend = "cni": podman 4 may pick netavark when it is installed;
 *   weft-cni needs the CNI backend. The plugin dirs: weft's first, then Debian's.
 * - events go to a file in this directory, not the journal.
 */
function containersConf(dir: string, cniBinDir: string): string {
  return [
    '[containers]',
    'default_ulimits = []',
    '[network]',
    'network_backend = "cni"',
    `cni_plugin_dirs = [${JSON.stringify(cniBinDir)}, ${JSON.stringify(DEBIAN_CNI_DIR)}]`,
    `network_config_dir = ${JSON.stringify(join(dir, 'net.d'))}`,
    '[engine]',
    'runtime = "runc"',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = ${JSON.stringify(join(dir, 'events.log'))}`,
    '',
  ].join('\n');
}

/** Set up a private podman for the node in `netns`; `cniBinDir` holds the installed weft plugin. */
export function podmanHost(dir: string, netns: string, cniBinDir: string): PodmanHost {
  for (const sub of ['storage', 'run', 'tmp', 'net.d']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'containers.conf'), containersConf(dir, cniBinDir), { mode: 0o644 });
  return { dir, netns };
}

/** The podman command line for this host: inside the node's namespace, with its private config and storage. */
export function podmanArgv(h: PodmanHost, args: readonly string[]): string[] {
  return [
    'nsenter',
    `--net=/run/netns/${h.netns}`,
    'env',
    `CONTAINERS_CONF=${join(h.dir, 'containers.conf')}`,
    'podman',
    '--root',
    join(h.dir, 'storage'),
    '--runroot',
    join(h.dir, 'run'),
    '--tmpdir',
    join(h.dir, 'tmp'),
    '--storage-driver',
    'vfs',
    ...args,
  ];
}

export function podman(h: PodmanHost, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return run(podmanArgv(h, args), { timeoutMs: 60_000, ...options });
}

export function podmanOk(h: PodmanHost, args: readonly string[], options: ExecOptions = {}): Promise<string> {
  return runOk(podmanArgv(h, args), { timeoutMs: 60_000, ...options }, `podman (${h.netns}): `);
}

/** Whether this machine has what the containers need; the missing Debian packages otherwise. */
export async function missingContainerTools(): Promise<string[]> {
  const missing: string[] = [];
  if ((await run(['podman', '--version'])).code !== 0) missing.push('podman');
  if ((await run(['runc', '--version'])).code !== 0) missing.push('runc');
  if (!existsSync(BUSYBOX)) missing.push('busybox-static');
  if (!existsSync(join(DEBIAN_CNI_DIR, 'portmap'))) missing.push('containernetworking-plugins');
  return missing;
}

/**
 * A root filesystem made of busybox-static (no image can be pulled): the
 * applets as links, the mount points podman fills, and /www/blob, random
 * bytes served over HTTP; returns the rootfs path and the blob's MD5.
 */
export async function buildRootfs(dir: string): Promise<{ rootfs: string; blobMd5: string }> {
  const rootfs = join(dir, 'rootfs');
  for (const sub of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'www', 'run']) mkdirSync(join(rootfs, sub), { recursive: true });
  copyFileSync(BUSYBOX, join(rootfs, 'bin/busybox'));
  for (const applet of APPLETS) if (!existsSync(join(rootfs, 'bin', applet))) symlinkSync('busybox', join(rootfs, 'bin', applet));
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
  writeFileSync(join(rootfs, 'www/blob'), randomBytes(BLOB_BYTES));
  const md5 = (await runOk(['md5sum', join(rootfs, 'www/blob')])).split(' ')[0]!;
  return { rootfs, blobMd5: md5 };
}

export interface Container {
  name: string;
  id: string;
  /** Its IPv4 address; '' on an IPv6-only node. */
  ip: string;
  /** Its IPv6 address, on a dual-stack or IPv6-only node (weft-cni gives one per family). */
  ip6: string | undefined;
}

/** Start a container from `rootfs` on CNI network `network`, serving /www over HTTP; returns its ID and addresses. */
export async function runContainer(h: PodmanHost, name: string, network: string, rootfs: string): Promise<Container> {
  // Read-only: the containers share one rootfs directory. NET_RAW: busybox ping uses a raw socket.
  const id = (
    await podmanOk(h, ['run', '-d', '--name', name, '--network', network, '--read-only', '--cap-add', 'NET_RAW', '--rootfs', rootfs, '/bin/httpd', '-f', '-p', String(HTTP_PORT), '-h', '/www'])
  ).trim();
  // podman reads both from the plugin's result: IPAddress is its IPv4 address, GlobalIPv6Address its IPv6 one ('' when none).
  // Split before trimming: an IPv6-only container's line starts with the space after an empty IPAddress.
  const [ip = '', ip6 = ''] = (await podmanOk(h, ['inspect', '--format', `{{with index .NetworkSettings.Networks "${network}"}}{{.IPAddress}} {{.GlobalIPv6Address}}{{end}}`, name])).replace(/\n$/u, '').split(' ');
  return { name, id, ip, ip6: ip6 === '' ? undefined : ip6 };
}

/** Ping `ip` from inside a container: one echo, 2 s to answer; true if it came back. */
export async function containerPing(h: PodmanHost, name: string, ip: string): Promise<boolean> {
  return (await podman(h, ['exec', name, 'ping', '-c', '1', '-W', '2', ip], { timeoutMs: 15_000 })).code === 0;
}

/**
 * Fetch the blob served by the container at `ip` from inside container
 * `name` (HTTP/1.0 over nc: the server closes when done); returns the MD5 of
 * the body, the stream's last BLOB_BYTES bytes after the headers.
 */
export async function containerFetch(h: PodmanHost, name: string, ip: string): Promise<string> {
  const script = `printf 'GET /blob HTTP/1.0\\r\\n\\r\\n' | nc ${ip} ${HTTP_PORT} | tail -c ${BLOB_BYTES} | md5sum`;
  const out = await podmanOk(h, ['exec', name, 'sh', '-c', script], { timeoutMs: 60_000 });
  return out.split(' ')[0]!.trim();
}

/**
 * Remove every container of this host (podman rm runs the plugin's DEL for
 * each), then unmount anything podman left mounted under its directory, so
 * the directory can be deleted. Never throws; returns what it could not do.
 */
export async function removeAllContainers(h: PodmanHost): Promise<string[]> {
  const problems: string[] = [];
  const r = await podman(h, ['rm', '--all', '--force', '--time', '0']);
  if (r.code !== 0) problems.push(`podman rm --all in ${h.netns}: ${r.stderr.trim()}`);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${h.dir}/`))
    .sort((a, b) => b.length - a.length); // deepest first
  for (const m of mounts) {
    const u = await run(['umount', '-l', m]);
    if (u.code !== 0) problems.push(`umount ${m}: ${u.stderr.trim()}`);
  }
  return problems;
}
