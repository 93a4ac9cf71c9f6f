/**
 * A handshake flood against weft and against wireguard-go, side by side in
 * one run: forged initiations with a valid MAC1 (anyone with the public key
 * can make them) at RATE per second from 50 addresses, while a pod pings
 * through the flooded node every 10 ms. Reports the flooded process's CPU,
 * the cookie replies it sent back (bytes reflected), and the ping.
 *
 *   npx tsc -p tsconfig.build.json
 *   sudo node dist/bench/wireguard/flood-bench.js [rate=10000] [seconds=5]
 *
 * Both cases: two node namespaces joined by a veth underlay, a pod each;
 * node a runs weft and hosts the flooder; node b (the target) runs weft in
 * the first case and Debian's wireguard-go in the second.
 */
import { generateKeyText, publicKeyText } from '../../src/crypto/keys.ts';
import { peerOf, startWeft, twoNodes } from '../../test/helpers/cluster.ts';
import type { TwoNodes } from '../../test/helpers/cluster.ts';
import { floodWithPing } from '../../test/helpers/flood.ts';
import type { FloodResult } from '../../test/helpers/flood.ts';
import { NetnsSandbox } from '../../test/helpers/netns.ts';
import { startWireguardGo } from '../../test/helpers/wireguard-go.ts';

const RATE = Math.min(100_000, Number(process.argv[2] ?? 10_000));
const SECONDS = Math.min(30, Number(process.argv[3] ?? 5));
const SOURCES = Array.from({ length: 50 }, (_, i) => `10.99.0.${100 + i}`);
const id = process.pid % 100000;

async function flooded(target: 'weft' | 'wireguard-go'): Promise<FloodResult> {
  const sb = new NetnsSandbox();
  const keys = { a: generateKeyText(), b: generateKeyText() };
  try {
    const nodes: TwoNodes = await twoNodes(sb, 1420);
    const { a, b } = nodes;
    const wa = await startWeft(sb, a, [peerOf(b, keys.b)], { backend: 'wireguard', tun: { name: `fba${id}` }, wireguard: { privateKey: keys.a }, metrics: { listen: 'off' } });
    let pid: number;
    let stop: () => Promise<unknown>;
    if (target === 'weft') {
      const wb = await startWeft(sb, b, [peerOf(a, keys.a)], { backend: 'wireguard', tun: { name: `fbb${id}` }, wireguard: { privateKey: keys.b }, metrics: { listen: 'off' } });
      pid = wb.proc.child.pid!;
      stop = () => wb.stop();
    } else {
      const go = await startWireguardGo(sb, b, `fbg${id}`, keys.b, { publicKey: publicKeyText(keys.a), endpoint: `${a.underlayIp}:51820`, allowedIps: a.subnet });
      // `env` exec'd wireguard-go, which stays in the foreground: the child's pid is its own.
      pid = go.proc.child.pid!;
      stop = () => go.stop();
    }
    for (const s of SOURCES) await sb.run(a.ns, ['ip', 'addr', 'add', `${s}/24`, 'dev', 'ul0']);
    await sb.run(a.podNs, ['ping', '-c', '3', '-i', '0.2', '-W', '1', b.podIp]);
    const r = await floodWithPing(sb, {
      attackerNs: a.ns,
      target: b.underlayIp,
      port: 51820,
      publicKey: publicKeyText(keys.b),
      rate: RATE,
      durationMs: SECONDS * 1000,
      sources: SOURCES,
      pingNs: a.podNs,
      pingIp: b.podIp,
      pid,
    });
    await stop();
    await wa.stop();
    return r;
  } finally {
    await sb.destroy();
  }
}

const rows: Array<[string, FloodResult]> = [];
for (const target of ['weft', 'wireguard-go'] as const) rows.push([target, await flooded(target)]);
console.log(`\nHandshake flood: ${RATE} forged initiations/s (valid MAC1) from ${SOURCES.length} addresses for ${SECONDS} s; a pod pings through the target every 10 ms\n`);
console.log('| target | CPU (cores) | cookie replies | bytes reflected / sent | pings | onset max (ms) | ping p50 / p99 after (ms) |');
console.log('|---|--:|--:|--:|--:|--:|--:|');
for (const [name, r] of rows) {
  console.log(`| ${name} | ${r.cores.toFixed(2)} | ${r.replies} | ${(r.replyBytes / r.sentBytes).toFixed(3)} | ${r.pings} | ${r.onsetMaxMs.toFixed(1)} | ${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)} |`);
}
const [weft, go] = [rows[0]![1], rows[1]![1]];
console.log(`\nweft / wireguard-go: CPU ${(weft.cores / go.cores).toFixed(2)}x, ping p99 ${(weft.p99Ms / go.p99Ms).toFixed(2)}x`);
