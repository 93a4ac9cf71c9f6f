/**
 * A machine running stock WireGuard (wireguard-go, configured only from the
 * output of `weft showconf`) joins the overlay through a weft node and
 * reaches a pod behind it; weft routes the machine's address back to it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import { ping, startWeft, twoNodes, weftMain, weftStatus } from '../helpers/cluster.ts';
import type { TwoNodes, WeftProcess } from '../helpers/cluster.ts';

const root = requireRoot();
const id = process.pid % 100000;
const LAPTOP_IF = `wgl${id}`;

describe.skipIf(!root)('weft showconf: a stock WireGuard machine joins the overlay', () => {
  const sb = new NetnsSandbox();
  const dir = mkdtempSync(join(tmpdir(), 'weft-showconf-'));
  const nodeKey = generateKeyText();
  const laptopKey = generateKeyText();
  let nodes: TwoNodes;
  let weft: WeftProcess;

  beforeAll(async () => {
    nodes = await twoNodes(sb, 1420);
    // node-a knows the laptop by key and address only: no endpoint, it will connect.
    weft = await startWeft(sb, nodes.a, [{ name: 'laptop', subnet: '10.250.0.5/32', publicKey: publicKeyText(laptopKey) }], {
      backend: 'wireguard',
      tun: { name: `wfs${id}` },
      wireguard: { privateKey: nodeKey },
    });
  });

  afterAll(async () => {
    await sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a wg-quick file for the laptop, and a route to it exists on the node', async () => {
    const keyFile = join(dir, 'laptop.key');
    writeFileSync(keyFile, `${laptopKey}\n`, { mode: 0o600 });
    const conf = await sb.run(nodes.a.ns, [process.execPath, weftMain(), 'showconf', 'laptop', '--private-key', keyFile, '--socket', weft.controlSocket]);
    expect(conf).toBe(
      [
        '# weft showconf laptop: join the overlay through node node-a.',
        '[Interface]',
        `PrivateKey = ${laptopKey}`,
        'Address = 10.250.0.5/32',
        '',
        '[Peer]',
        '# node node-a, subnet 10.244.1.0/24',
        `PublicKey = ${publicKeyText(nodeKey)}`,
        'Endpoint = 10.99.0.1:51820',
        'AllowedIPs = 10.244.0.0/16',
        'PersistentKeepalive = 25',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, `${LAPTOP_IF}.conf`), conf, { mode: 0o600 });
    const status = await weftStatus(weft);
    expect(status.peerRoutes).toEqual(['10.250.0.5/32']);
    expect(await sb.run(nodes.a.ns, ['ip', 'route', 'show', '10.250.0.5'])).toContain(`dev wfs${id}`);
  });

  it('wireguard-go configured from it reaches a pod behind the node, and the pod answers', async () => {
    const proc = sb.spawn(nodes.b.ns, ['env', 'WG_PROCESS_FOREGROUND=1', 'wireguard-go', LAPTOP_IF]);
    for (let i = 0; i < 100 && !(await sb.exec(nodes.b.ns, ['wg', 'show', LAPTOP_IF])).stdout; i++) await new Promise((r) => setTimeout(r, 50));
    const stripped = await sb.run(nodes.b.ns, ['wg-quick', 'strip', join(dir, `${LAPTOP_IF}.conf`)]);
    writeFileSync(join(dir, 'stripped.conf'), stripped, { mode: 0o600 });
    await sb.run(nodes.b.ns, ['wg', 'setconf', LAPTOP_IF, join(dir, 'stripped.conf')]);
    await sb.run(nodes.b.ns, ['ip', 'addr', 'add', '10.250.0.5/32', 'dev', LAPTOP_IF]);
    await sb.run(nodes.b.ns, ['ip', 'link', 'set', LAPTOP_IF, 'up']);
    await sb.run(nodes.b.ns, ['ip', 'route', 'add', '10.244.0.0/16', 'dev', LAPTOP_IF]);
    expect(await ping(sb, nodes.b.ns, nodes.a.podIp, 3)).toBeGreaterThanOrEqual(2);
    // And the other way: the pod reaches the laptop through the node.
    expect(await ping(sb, nodes.a.podNs, '10.250.0.5', 3)).toBe(3);
    proc.child.kill('SIGTERM');
  });

  it('withdraws the route when the peer goes', async () => {
    await sb.run(nodes.a.ns, ['wg', 'set', `wfs${id}`, 'peer', publicKeyText(laptopKey), 'remove']);
    for (let i = 0; i < 50 && (await sb.run(nodes.a.ns, ['ip', 'route', 'show', '10.250.0.5'])).includes('dev'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await sb.run(nodes.a.ns, ['ip', 'route', 'show', '10.250.0.5'])).toBe('');
    expect(await weft.stop()).toBe(0);
  });
});
