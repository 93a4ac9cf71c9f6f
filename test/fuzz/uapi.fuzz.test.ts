import { isIP } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { formatCidr, parseCidr } from '../../src/wire/addr.ts';
import type { Cidr } from '../../src/wire/addr.ts';
import { EINVAL, EPROTO, formatGet, parseSet } from '../../src/wireguard/uapi.ts';
import type { UapiChange, UapiDeviceState, UapiPeerState } from '../../src/wireguard/uapi.ts';
import { UapiServer } from '../../src/wireguard/uapi-server.ts';
import type { UapiDevice } from '../../src/wireguard/uapi-server.ts';
import { FakeSocket, Fuzz, check, fuzzCount } from './fuzz-helpers.ts';

// The server's connection handler, captured so a fake socket can drive it with chunks of our choosing.
const captured = vi.hoisted(() => ({ onConnection: null as null | ((socket: unknown) => void) }));
vi.mock('../../src/transport/unix-socket.ts', () => ({
  listenUnix: async (path: string, onConnection: (socket: unknown) => void) => {
    captured.onConnection = onConnection;
    return { path, close: async () => {} };
  },
}));

const SEED = 0x0a91_5e7;
const COUNT = fuzzCount(20_000);

function randomCidr(f: Fuzz): Cidr {
  const v6 = f.chance(0.4);
  const bits = f.int(v6 ? 129 : 33);
  const text = v6 ? `${[0, 1, 2, 3, 4, 5, 6, 7].map(() => f.int(0x10000).toString(16)).join(':')}/${bits}` : `${[0, 1, 2, 3].map(() => f.int(256)).join('.')}/${bits}`;
  return parseCidr(text, { strict: false });
}

function randomEndpoint(f: Fuzz): { address: string; port: number } {
  const address = f.pick([
    () => [0, 1, 2, 3].map(() => f.int(256)).join('.'),
    () => [0, 1, 2, 3, 4, 5, 6, 7].map(() => f.int(0x10000).toString(16)).join(':'),
    () => `fd00::${f.int(0x10000).toString(16)}`,
    () => '::1',
    () => `::ffff:192.0.2.${f.int(256)}`,
  ])();
  return { address, port: 1 + f.int(65535) };
}

function randomState(f: Fuzz): UapiDeviceState {
  const peers: UapiPeerState[] = [];
  const n = f.int(4);
  for (let i = 0; i < n; i++) {
    peers.push({
      publicKey: f.bytes(32),
      presharedKey: f.chance(0.5) ? f.bytes(32) : undefined,
      endpoint: f.chance(0.7) ? randomEndpoint(f) : undefined,
      lastHandshakeMs: f.chance(0.3) ? 0 : f.int(2 ** 31) * 1000 + f.int(1000),
      txBytes: f.int(2 ** 40),
      rxBytes: f.int(2 ** 40),
      persistentKeepalive: f.chance(0.5) ? 0 : f.int(65536),
      allowedIps: Array.from({ length: f.int(5) }, () => randomCidr(f)),
    });
  }
  return { privateKey: f.chance(0.8) ? f.bytes(32) : undefined, listenPort: f.int(65536), fwmark: f.chance(0.5) ? 0 : f.int(2 ** 32), peers };
}

/** A valid set request's lines, for the mutator to start from. */
function validSet(f: Fuzz): string[] {
  const lines: string[] = [];
  if (f.chance(0.5)) lines.push(`private_key=${f.hex(32)}`);
  if (f.chance(0.5)) lines.push(`listen_port=${f.int(65536)}`);
  if (f.chance(0.3)) lines.push(`fwmark=${f.int(2 ** 32)}`);
  if (f.chance(0.3)) lines.push('replace_peers=true');
  for (let i = f.int(4); i > 0; i--) {
    lines.push(`public_key=${f.hex(32)}`);
    if (f.chance(0.2)) lines.push('remove=true');
    if (f.chance(0.2)) lines.push('update_only=true');
    if (f.chance(0.4)) lines.push(`preshared_key=${f.chance(0.2) ? '0'.repeat(64) : f.hex(32)}`);
    if (f.chance(0.6)) {
      const e = randomEndpoint(f);
      lines.push(`endpoint=${isIP(e.address) === 6 ? `[${e.address}]` : e.address}:${e.port}`);
    }
    if (f.chance(0.4)) lines.push(`persistent_keepalive_interval=${f.int(65536)}`);
    if (f.chance(0.4)) lines.push('replace_allowed_ips=true');
    for (let j = f.int(4); j > 0; j--) lines.push(`allowed_ip=${formatCidr(randomCidr(f))}`);
    if (f.chance(0.3)) lines.push('protocol_version=1');
  }
  return lines;
}

const TOKENS = [
  'public_key=', 'private_key=', 'preshared_key=', 'listen_port=', 'fwmark=', 'replace_peers=true', 'remove=true', 'update_only=true',
  'endpoint=', 'endpoint=[::1]:1', 'allowed_ip=', 'allowed_ip=0.0.0.0/0', 'allowed_ip=::/0', 'persistent_keepalive_interval=', 'protocol_version=',
  'replace_allowed_ips=true', 'get=1', 'set=1', '=', 'true', 'false', '0'.repeat(64), 'f'.repeat(64), 'F'.repeat(64), '[', ']:', '/33', '/129',
  'constructor', '__proto__', 'toString',
];

function checkChange(c: UapiChange): void {
  const isKey = (k: Uint8Array | undefined) => k === undefined || (k instanceof Uint8Array && k.length === 32);
  check(isKey(c.privateKey), 'private key');
  if (c.listenPort !== undefined) check(Number.isInteger(c.listenPort) && c.listenPort >= 0 && c.listenPort <= 65535, `listen port ${c.listenPort}`);
  if (c.fwmark !== undefined) check(Number.isInteger(c.fwmark) && c.fwmark >= 0 && c.fwmark <= 0xffffffff, `fwmark ${c.fwmark}`);
  for (const p of c.peers) {
    check(p.publicKey.length === 32 && isKey(p.presharedKey), 'peer keys');
    if (p.endpoint !== undefined) {
      check(isIP(p.endpoint.address) !== 0, `endpoint address ${p.endpoint.address}`);
      check(Number.isInteger(p.endpoint.port) && p.endpoint.port >= 1 && p.endpoint.port <= 65535, `endpoint port ${p.endpoint.port}`);
    }
    if (p.persistentKeepalive !== undefined) check(Number.isInteger(p.persistentKeepalive) && p.persistentKeepalive <= 65535, 'keepalive');
    for (const a of p.allowedIps) check(a.bits <= (a.family === 4 ? 32 : 128) && a.addr.length === (a.family === 4 ? 4 : 16), 'allowed ip');
  }
}

/** The answer a request must get, from the parser's own verdict. */
function expectedAnswer(request: string[], device: UapiDevice): string {
  const [op, ...rest] = request;
  if (op === 'get=1' && rest.length === 0) return formatGet(device.state());
  if (op !== 'set=1') return `errno=${EINVAL}\n\n`;
  const v = parseSet(rest);
  return `errno=${'errno' in v ? v.errno : device.apply(v.change)}\n\n`;
}

describe(`UAPI text protocol under hostile input (seed ${SEED.toString(16)})`, () => {
  it(`parses ${COUNT} random and mutated set requests into a valid change or an errno, never a throw`, () => {
    const f = new Fuzz(SEED);
    const corpus: string[] = [];
    for (let i = 0; i < 64; i++) corpus.push(validSet(f).join('\n'));
    const verdicts = { change: 0, einval: 0, eproto: 0 };
    for (let i = 0; i < COUNT; i++) {
      let lines: string[];
      const r = f.rand();
      if (r < 0.15) lines = f.text(200).split('\n');
      else if (r < 0.3) lines = validSet(f); // valid as it is
      else lines = f.mutateText(f.pick(corpus), TOKENS, corpus).split('\n');
      let v: ReturnType<typeof parseSet>;
      try {
        v = parseSet(lines);
      } catch (err) {
        throw new Error(`input ${i} threw: ${JSON.stringify(lines)}`, { cause: err });
      }
      if ('errno' in v) {
        check((v.errno === EINVAL || v.errno === EPROTO) && v.reason.length > 0, `input ${i}: errno ${v.errno} ${v.reason}`);
        if (v.errno === EINVAL) verdicts.einval++;
        else verdicts.eproto++;
      } else {
        checkChange(v.change);
        verdicts.change++;
      }
      if (r >= 0.15 && r < 0.3) check('change' in v, `valid input ${i} refused: ${JSON.stringify(lines)}`);
    }
    expect(verdicts.change).toBeGreaterThan(COUNT * 0.1);
    expect(verdicts.einval).toBeGreaterThan(COUNT * 0.1);
  });

  it(`round-trips ${Math.ceil(COUNT / 10)} random device states: formatGet then parseSet gives the state back`, () => {
    const f = new Fuzz(SEED + 1);
    const settable = /^(private_key|listen_port|fwmark|public_key|preshared_key|endpoint|persistent_keepalive_interval|allowed_ip|protocol_version)=/u;
    for (let i = 0; i < Math.ceil(COUNT / 10); i++) {
      const state = randomState(f);
      const text = formatGet(state);
      // Exactly one request end, at the end, so the client's framing holds.
      check(text.endsWith('\nerrno=0\n\n') && text.indexOf('\n\n') === text.length - 2, `state ${i}: framing of\n${text}`);
      const lines = text.slice(0, -2).split('\n').filter((l) => settable.test(l));
      const v = parseSet(lines);
      if (!('change' in v)) throw new Error(`state ${i}: ${v.reason}\n${text}`);
      const c = v.change;
      const hexOf = (k: Uint8Array | undefined) => (k === undefined ? undefined : Buffer.from(k).toString('hex'));
      const got = JSON.stringify({
        privateKey: hexOf(c.privateKey), listenPort: c.listenPort, fwmark: c.fwmark ?? 0,
        peers: c.peers.map((q) => [hexOf(q.publicKey), hexOf(q.presharedKey), q.endpoint, q.persistentKeepalive, q.allowedIps.map(formatCidr), q.remove, q.updateOnly]),
      });
      const want = JSON.stringify({
        privateKey: hexOf(state.privateKey), listenPort: state.listenPort, fwmark: state.fwmark,
        peers: state.peers.map((p) => [hexOf(p.publicKey), hexOf(p.presharedKey), p.endpoint, p.persistentKeepalive, p.allowedIps.map(formatCidr), false, false]),
      });
      if (got !== want) expect(got, `state ${i}`).toBe(want);
      // The counters a get reports are exact too.
      for (const [j, p] of state.peers.entries()) {
        const block = text.split('public_key=')[j + 1]!;
        const counters = `\nlast_handshake_time_sec=${Math.floor(p.lastHandshakeMs / 1000)}\nlast_handshake_time_nsec=${(p.lastHandshakeMs % 1000) * 1_000_000}\ntx_bytes=${p.txBytes}\nrx_bytes=${p.rxBytes}\n`;
        check(block.includes(counters), `state ${i}: counters of peer ${j}`);
      }
    }
  });

  it(`frames ${COUNT} requests sent in random chunks: one exact answer per request, in order`, async () => {
    const f = new Fuzz(SEED + 2);
    const state = randomState(new Fuzz(7));
    const applied: UapiChange[] = [];
    const device: UapiDevice = {
      state: () => state,
      apply: (c) => {
        applied.push(c);
        return c.peers.length % 3 === 2 ? EINVAL : 0;
      },
    };
    const server = await UapiServer.listen('wg-fuzz', device, '/nonexistent');
    expect(server.path).toBe('/nonexistent/wg-fuzz.sock');
    const serve = captured.onConnection!;
    const corpus = Array.from({ length: 32 }, () => ['set=1', ...validSet(f)].join('\n'));
    let sent = 0;
    while (sent < COUNT) {
      // One connection: a stream of requests, some of them garbage, cut into random chunks.
      const requests: string[] = [];
      for (let k = 1 + f.int(40); k > 0; k--) {
        const r = f.rand();
        if (r < 0.25) requests.push('get=1');
        else if (r < 0.5) requests.push(['set=1', ...validSet(f)].join('\n'));
        else if (r < 0.6) requests.push(f.text(80).replace(/\n\n/gu, '\n'));
        else requests.push(f.mutateText(f.pick(corpus), TOKENS, corpus).replace(/\n\n+/gu, '\n'));
      }
      let stream = requests.map((q) => `${q}\n\n`).join('');
      const tail = f.chance(0.3) ? f.mutateText('set=1\nlisten_port=1', TOKENS).replace(/\n\n/gu, '\n') : '';
      stream += tail; // an unfinished request is never answered
      const expected = stream.split('\n\n').slice(0, -1).map((q) => expectedAnswer(q.split('\n'), device)).join('');
      const socket = new FakeSocket({ writesAfterDestroy: true });
      serve(socket);
      for (let o = 0; o < stream.length;) {
        const n = f.chance(0.2) ? 1 : 1 + f.int(f.chance(0.5) ? 8 : 2000);
        socket.emit('data', stream.slice(o, o + n));
        o += n;
      }
      expect(socket.out).toBe(expected);
      expect(socket.ended).toBe(false);
      sent += requests.length;
    }
    expect(applied.length).toBeGreaterThan(0);
  });

  it('refuses a request that grows past 1 MiB without ending, and answers nothing more', async () => {
    const f = new Fuzz(SEED + 3);
    await UapiServer.listen('wg-big', { state: () => randomState(f), apply: () => 0 }, '/nonexistent');
    const socket = new FakeSocket({ writesAfterDestroy: true });
    captured.onConnection!(socket);
    socket.emit('data', 'get=1\n\n');
    const first = socket.out;
    expect(first.endsWith('errno=0\n\n')).toBe(true);
    const line = `allowed_ip=10.0.0.0/8\n`;
    for (let i = 0; i < (1 << 20) / line.length + 2 && !socket.ended; i++) socket.emit('data', i === 0 ? `set=1\n${line}` : line);
    expect(socket.ended).toBe(true);
    expect(socket.out).toBe(`${first}errno=${EINVAL}\n\n`);
  });
});
