/**
 * What a local user who is not root can reach of a running node started
 * under `umask 000` (the worst case): nothing. The UAPI socket (get=1 hands
 * out the private key) is 0700, the control socket 0600, the generated key
 * 0600 in a 0700 state directory, subnet.env 0644; an unprivileged wg show
 * and an unprivileged connect to the control socket are refused.
 */
import { chmodSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import type { SandboxProcess } from '../helpers/netns.ts';
import { twoNodes, waitForLog, weftMain } from '../helpers/cluster.ts';
import type { TwoNodes } from '../helpers/cluster.ts';

const root = requireRoot();
const TUN = `wsec${process.pid % 100000}`;
const SOCK = `/var/run/wireguard/${TUN}.sock`;
const modeOf = (path: string) => (lstatSync(path).mode & 0o7777).toString(8);
/** Run as nobody (65534), no supplementary groups. */
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];

describe.skipIf(!root)('a node started under umask 000', () => {
  const sb = new NetnsSandbox();
  // 0711: nobody may traverse to the files (so the modes below are what stops it), not list them.
  const dir = mkdtempSync(join(tmpdir(), 'weft-security-'));
  const paths = { config: join(dir, 'a.json'), control: join(dir, 'run', 'a.sock'), subnetEnv: join(dir, 'flannel', 'subnet.env'), stateDir: join(dir, 'state') };
  let nodes: TwoNodes;
  let weft: SandboxProcess;

  beforeAll(async () => {
    chmodSync(dir, 0o711);
    nodes = await twoNodes(sb, 1420);
    const { a } = nodes;
    // No key given: weft generates one into its state directory.
    writeFileSync(paths.config, JSON.stringify({ name: a.name, backend: 'wireguard', underlay: { address: a.underlayIp }, subnet: a.subnet, tun: { name: TUN }, controlSocket: paths.control, subnetEnv: paths.subnetEnv, stateDir: paths.stateDir, metrics: { listen: 'off' } }));
    weft = sb.spawn(a.ns, ['sh', '-c', 'umask 000 && exec "$@"', 'sh', process.execPath, weftMain(), 'up', '--config', paths.config]);
    await waitForLog(weft, 'ready', 15_000);
  });

  afterAll(async () => {
    if (weft !== undefined) {
      weft.child.kill('SIGTERM');
      await Promise.race([weft.exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
    rmSync(SOCK, { force: true });
  });

  it('gives every socket and file its exact mode', () => {
    expect(modeOf(SOCK)).toBe('700');
    expect(modeOf(paths.control)).toBe('600');
    expect(modeOf(join(dir, 'run'))).toBe('755');
    expect(modeOf(join(paths.stateDir, 'wireguard.key'))).toBe('600');
    expect(modeOf(paths.stateDir)).toBe('700');
    expect(modeOf(paths.subnetEnv)).toBe('644');
    expect(modeOf(join(dir, 'flannel'))).toBe('755');
  });

  it('an unprivileged user can neither read the key through wg show nor query the control socket', async () => {
    const { a } = nodes;
    // Root can: the socket works.
    expect((await sb.run(a.ns, ['wg', 'show', TUN, 'private-key'])).trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/u);
    const wg = await sb.exec(a.ns, [...NOBODY, 'wg', 'show', TUN, 'private-key']);
    expect(wg.code).not.toBe(0);
    expect(wg.stdout).toBe('');
    expect(wg.stderr).toMatch(/Permission denied|Operation not permitted|Unable to access interface/u);
    const probe = `require('net').connect(process.argv[1]).on('connect',()=>{console.log('connected');process.exit(0)}).on('error',(e)=>{console.log(e.code);process.exit(3)})`;
    const control = await sb.exec(a.ns, [...NOBODY, process.execPath, '-e', probe, paths.control]);
    expect(control.stdout.trim()).toBe('EACCES');
    const key = await sb.exec(a.ns, [...NOBODY, 'cat', join(paths.stateDir, 'wireguard.key')]);
    expect(key.code).not.toBe(0);
    // subnet.env is for CNI plugins: readable, not writable.
    expect((await sb.exec(a.ns, [...NOBODY, 'cat', paths.subnetEnv])).stdout).toMatch(/^FLANNEL_NETWORK=/u);
    expect((await sb.exec(a.ns, [...NOBODY, 'sh', '-c', `echo x >> ${paths.subnetEnv}`])).code).not.toBe(0);
  });
});
