/**
 * A WireGuard peer restarts while traffic flows: how long is the pod-to-pod
 * path dark? One-way probe streams (a datagram every 50 ms, timestamps at
 * the receiver) and pings, across a SIGKILL and a fresh `weft up`, against
 * weft and against Debian's wireguard-go.
 *
 * What the protocol promises and weft adds (src/wireguard/timers.ts):
 * a sender that hears nothing for KEEPALIVE + REKEY timeouts (15 s) after
 * its first unanswered packet starts a new handshake; a restarted weft node
 * knows its peers' endpoints and handshakes at once, so weft to weft is back
 * as soon as the node is up. Before these rules, steady traffic postponed the
 * new handshake to REKEY_AFTER_TIME (90 to 180 s of silence).
 */
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { NetnsSandbox, requireRoot } from '../helpers/netns.ts';
import type { SandboxProcess } from '../helpers/netns.ts';
import { ROOT, peerOf, startWeft, twoNodes, weftStatus } from '../helpers/cluster.ts';
import type { OverlayNode, TwoNodes, WeftProcess } from '../helpers/cluster.ts';
import { startWireguardGo } from '../helpers/wireguard-go.ts';
import type { WireguardGo } from '../helpers/wireguard-go.ts';

const root = requireRoot();
const id = process.pid % 100000;
const PROBE = join(ROOT, 'test/helpers/udp-probe.mjs');
const INTERVAL_MS = 50;

interface Stream {
  rx: SandboxProcess;
  tx: SandboxProcess;
}

async function startStream(sb: NetnsSandbox, from: OverlayNode, to: OverlayNode, port: number): Promise<Stream> {
  const rx = sb.spawn(to.podNs, [process.execPath, PROBE, 'recv', String(port)]);
  await rx.waitFor('listening', 5000);
  const tx = sb.spawn(from.podNs, [process.execPath, PROBE, 'send', to.podIp, String(port), String(INTERVAL_MS)]);
  return { rx, tx };
}

function arrivals(s: Stream): number[] {
  return s.rx
    .stdout()
    .split('\n')
    .filter((l) => /^\d+ \d+$/u.test(l))
    .map((l) => Number(l.split(' ')[0]));
}

/** Wait (bounded) until the stream has delivered a datagram after `afterMs`; returns its arrival time or Infinity. */
async function firstArrivalAfter(s: Stream, afterMs: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = arrivals(s).find((x) => x > afterMs);
    if (t !== undefined) return t;
    if (Date.now() > deadline) return Infinity;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Kill a weft node outright (no cleanup of its own) and remove its test directory. */
async function killWeft(w: WeftProcess): Promise<void> {
  await w.proc.kill();
  rmSync(dirname(w.configPath), { recursive: true, force: true });
}

describe.skipIf(!root)('WireGuard peer restarts', () => {
  const sb = new NetnsSandbox();
  const keys = { a: generateKeyText(), b: generateKeyText() };
  let nodes: TwoNodes;
  const weftA = () => startWeft(sb, nodes.a, [peerOf(nodes.b, keys.b)], { backend: 'wireguard', tun: { name: `wra${id}` }, wireguard: { privateKey: keys.a } });
  const weftB = () => startWeft(sb, nodes.b, [peerOf(nodes.a, keys.a)], { backend: 'wireguard', tun: { name: `wrb${id}` }, wireguard: { privateKey: keys.b } });
  const measured: Record<string, number> = {};

  beforeAll(async () => {
    nodes = await twoNodes(sb, 1420);
  });

  afterAll(async () => {
    await sb.destroy();
    console.log(`outages (ms from the restarted node's ready line to the first datagram through): ${JSON.stringify(measured)}`);
  });

  /**
   * With a stream from `from` to `to` flowing, SIGKILL the node `restart` and start it again;
   * returns ms from its ready line to the first datagram through.
   */
  async function outage(label: string, from: OverlayNode, to: OverlayNode, port: number, nodesUp: { a: WeftProcess; b: WeftProcess }, restart: 'a' | 'b'): Promise<{ a: WeftProcess; b: WeftProcess }> {
    const stream = await startStream(sb, from, to, port);
    try {
      expect(await firstArrivalAfter(stream, 0, 10_000)).toBeLessThan(Infinity);
      await killWeft(nodesUp[restart]);
      const fresh = restart === 'a' ? await weftA() : await weftB();
      const readyAt = Date.now();
      const through = await firstArrivalAfter(stream, readyAt, 30_000);
      measured[label] = through - readyAt;
      if (through - readyAt >= 6000) await fresh.stop(); // the caller only knows the nodes it was given
      expect(through - readyAt).toBeLessThan(6000);
      return restart === 'a' ? { a: fresh, b: nodesUp.b } : { a: nodesUp.a, b: fresh };
    } finally {
      await stream.tx.kill();
      await stream.rx.kill();
    }
  }

  it('weft <-> weft: the receiver of a one-way stream restarts (no keepalive): back within 6 s of its start', async () => {
    let up = { a: await weftA(), b: await weftB() };
    try {
      up = await outage('weft receiver restart, one-way', nodes.a, nodes.b, 7001, up, 'b');
      up = await outage('weft sender restart, one-way', nodes.a, nodes.b, 7002, up, 'a');
    } finally {
      await up.a.stop();
      await up.b.stop();
    }
  });

  it('weft <-> weft, traffic both ways: either side restarting is back within 6 s of its start', async () => {
    let up = { a: await weftA(), b: await weftB() };
    const back = await startStream(sb, nodes.b, nodes.a, 7010);
    try {
      up = await outage('weft restart, both ways (b restarts)', nodes.a, nodes.b, 7011, up, 'b');
      up = await outage('weft restart, both ways (a restarts)', nodes.a, nodes.b, 7012, up, 'a');
      // The reverse stream came through the restarts too.
      expect(await firstArrivalAfter(back, Date.now() - 1000, 10_000)).toBeLessThan(Infinity);
    } finally {
      await back.tx.kill();
      await back.rx.kill();
      await up.a.stop();
      await up.b.stop();
    }
  });

  it('weft -> wireguard-go: wireguard-go restarts under a one-way stream; weft re-handshakes 15 s after its first unanswered packet', async () => {
    const wgIf = `wrg${id}`;
    const a = await weftA();
    const startGo = () => startWireguardGo(sb, nodes.b, wgIf, keys.b, { publicKey: publicKeyText(keys.a), endpoint: `${nodes.a.underlayIp}:51820`, allowedIps: nodes.a.subnet });
    let go: WireguardGo = await startGo();
    const stream = await startStream(sb, nodes.a, nodes.b, 7020);
    try {
      const first = await firstArrivalAfter(stream, 0, 10_000);
      if (first === Infinity) console.log('no traffic before the restart; weft status:', JSON.stringify(await weftStatus(a)), 'wireguard-go exit code:', go.proc.child.exitCode);
      expect(first).toBeLessThan(Infinity);
      const killedAt = Date.now();
      await go.proc.kill();
      go = await startGo();
      // wireguard-go starts silent (no keepalive configured): only weft's rule can bring the path back.
      const through = await firstArrivalAfter(stream, Date.now(), 30_000);
      measured['wireguard-go restart under weft sender'] = through - killedAt;
      if (through === Infinity) console.log('no recovery; weft status:', JSON.stringify(await weftStatus(a)), 'wireguard-go exit code:', go.proc.child.exitCode);
      expect(through - killedAt).toBeGreaterThan(10_000);
      expect(through - killedAt).toBeLessThan(17_000);
    } finally {
      await stream.tx.kill();
      await stream.rx.kill();
      await go.stop();
      await a.stop();
    }
  });

  it('wireguard-go -> weft: weft restarts under wireguard-go\'s one-way stream and handshakes at once', async () => {
    const wgIf = `wrh${id}`;
    let a = await weftA();
    const go = await startWireguardGo(sb, nodes.b, wgIf, keys.b, { publicKey: publicKeyText(keys.a), endpoint: `${nodes.a.underlayIp}:51820`, allowedIps: nodes.a.subnet });
    const stream = await startStream(sb, nodes.b, nodes.a, 7030);
    try {
      expect(await firstArrivalAfter(stream, 0, 10_000)).toBeLessThan(Infinity);
      await killWeft(a);
      a = await weftA();
      const readyAt = Date.now();
      const through = await firstArrivalAfter(stream, readyAt, 30_000);
      measured['weft restart under wireguard-go sender'] = through - readyAt;
      expect(through - readyAt).toBeLessThan(6000);
    } finally {
      await stream.tx.kill();
      await stream.rx.kill();
      await go.stop();
      await a.stop();
    }
  });
});
