/**
 * wg(8) finds a userspace device only at /var/run/wireguard/<name>.sock, one
 * directory for every network namespace on the machine. Two WireGuard nodes
 * in two namespaces with one tun.name would want one socket: the second must
 * fail with an error naming tun.name, never take the first one's socket, and
 * the first must still answer wg show.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { startWeft, twoNodes, waitForLog, weftMain } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';

const root = requireRoot();
const TUN = `wsu${process.pid % 100000}`;
const SOCK = `/var/run/wireguard/${TUN}.sock`;

describe.skipIf(!root)('one tun.name in two namespaces', () => {
  const sb = new NetnsSandbox();
  const dir = mkdtempSync(join(tmpdir(), 'weft-uapi-clash-'));
  const keys = { a: generateKeyText(), b: generateKeyText() };
  let nodes: TwoNodes;
  let first: WeftProcess | undefined;

  beforeAll(async () => {
    nodes = await twoNodes(sb, 1420);
  });

  afterAll(async () => {
    await first?.stop();
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
    rmSync(SOCK, { force: true });
  });

  it('the second node fails naming tun.name; the first keeps its socket and answers wg show', async () => {
    const { a, b } = nodes;
    first = await startWeft(sb, a, [], { backend: 'wireguard', tun: { name: TUN }, wireguard: { privateKey: keys.a } });
    expect(existsSync(SOCK)).toBe(true);

    const config = join(dir, 'b.json');
    writeFileSync(
      config,
      JSON.stringify({
        name: b.name,
        backend: 'wireguard',
        underlay: { address: b.underlayIp },
        subnet: b.subnet,
        tun: { name: TUN },
        wireguard: { privateKey: keys.b },
        controlSocket: join(dir, 'b.sock'),
        subnetEnv: join(dir, 'b.env'),
        metrics: { listen: 'off' },
      }),
    );
    const second = sb.spawn(b.ns, [process.execPath, weftMain(), 'up', '--config', config]);
    const exit = await Promise.race([second.exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
    if (exit === null) await second.kill();
    expect(exit?.code, second.stderr()).toBe(1);
    const failed = await waitForLog(second, 'start failed', 1000);
    expect(failed.code).toBe('SOCKET_IN_USE');
    expect(failed.error).toBe(
      `config field "tun.name": ${SOCK} is served by a running WireGuard device named ${TUN} (weft or wireguard-go, perhaps in another network namespace: they all share /var/run/wireguard); set tun.name to a name no other WireGuard device on this machine uses`,
    );
    // Nothing of the second node is left in its namespace, and the first one's socket is untouched.
    expect(await sb.run(b.ns, ['ip', '-o', 'link', 'show'])).not.toContain(TUN);
    expect(existsSync(join(dir, 'b.env'))).toBe(false);
    expect(existsSync(SOCK)).toBe(true);
    const dump = (await sb.run(a.ns, ['wg', 'show', TUN, 'dump'])).trim().split('\n');
    expect(dump[0]!.split('\t').slice(0, 3)).toEqual([keys.a, publicKeyText(keys.a), '51820']);
    // wg in the second namespace reaches the same socket: it is the first node's.
    expect((await sb.run(b.ns, ['wg', 'show', TUN, 'public-key'])).trim()).toBe(publicKeyText(keys.a));

    expect(await first.stop()).toBe(0);
    first = undefined;
    expect(existsSync(SOCK)).toBe(false);
  });
});
