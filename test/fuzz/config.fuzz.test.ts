import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { loadConfig, OVERRIDES } from '../../src/cli/config-load.ts';
import { parseConfig } from '../../src/cli/config.ts';
import type { NodeConfig } from '../../src/cli/config.ts';
import { WeftError } from '../../src/errors.ts';
import { formatCidr } from '../../src/wire/addr.ts';
import { BOUNDARY_NUMBERS, Fuzz, fuzzCount } from './fuzz-helpers.ts';

const SEED = 0xc0_f1_6;
const COUNT = fuzzCount(5_000);

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

// Fixed keys (32 bytes, base64), so the corpus is the same on every run.
const KEY_A = Buffer.alloc(32, 0x41).toString('base64');
const KEY_B = Buffer.alloc(32, 0x42).toString('base64');
const KEY_C = Buffer.alloc(32, 0x43).toString('base64');

let dir = '';

/** Valid configurations the mutators start from; every one of them loads. */
function corpus(): Record<string, unknown>[] {
  return [
    {
      name: 'node-a', backend: 'vxlan', underlay: { address: '192.168.50.1', mtu: 1500 }, clusterCidr: '10.244.0.0/16', subnet: '10.244.1.0/24',
      tun: { name: 'weft0', mtu: 1450, offload: true }, vxlan: { vni: 1, port: 8472, vtepMac: '0e:00:00:00:00:01', sourceCheck: true }, ring: { slots: 1024 },
      peers: [{ name: 'node-b', endpoint: '192.168.50.2:8472', subnet: '10.244.2.0/24' }, { name: 'node-c', endpoint: '192.168.50.3', subnet: '10.244.3.0/24', vtepMac: '0e:00:00:00:00:03' }],
      metrics: { listen: '127.0.0.1:9586' }, transport: { type: 'batch', gso: true, gro: false },
    },
    {
      name: 'wg-1', backend: 'wireguard', underlay: { address: '203.0.113.1' }, subnet: '10.244.7.0/24', stateDir: 'state',
      wireguard: { privateKey: KEY_A, listenPort: 51820 },
      peers: [{ name: 'wg-2', endpoint: '203.0.113.2:51820', subnet: '10.244.8.0/24', publicKey: KEY_B, presharedKey: KEY_C, persistentKeepalive: 25 }],
      transport: 'dgram', metrics: { listen: 'off' },
    },
    {
      name: 'g1', underlay: { address: '192.0.2.1' }, location: 'rack-1',
      gossip: { port: 7946, seeds: ['192.0.2.2:7946', '[fd00::2]:7946', '192.0.2.3'], clusterKey: KEY_A, oldKeys: [KEY_B] },
    },
    {
      name: 'mixed-1', backend: 'mixed', location: 'dc-a', underlay: { address: '192.0.2.9' }, subnet: '10.244.9.0/24',
      wireguard: { privateKeyFile: 'private.key', timeScale: 0.5 }, gossip: { clusterKeyFile: join(dir, 'cluster.key') },
      peers: [
        { name: 'near', endpoint: '192.0.2.10:8472', subnet: '10.244.10.0/24', location: 'dc-a' },
        { name: 'far', endpoint: '198.51.100.1:51820', subnet: '10.244.11.0/24', location: 'dc-b', publicKey: KEY_C },
      ],
    },
    { name: 'wgq', backend: 'wireguard', underlay: { address: 'fd00::1' }, subnet: '10.244.12.0/24', wireguard: { configFile: 'wg0.conf' }, transport: { type: 'dgram' }, controlSocket: 'ctl.sock', subnetEnv: 'subnet.env' },
    { name: 'tiny', underlay: { address: '10.0.0.1' }, subnet: '10.244.0.0/24' },
    { name: 'dual', underlay: { address: '10.0.0.2' }, clusterCidr: '10.244.0.0/16,fd00:10:244::/56', subnet: ['10.244.1.0/24', 'fd00:10:244:1::/64'] },
    { name: 'dual-g', underlay: { address: '10.0.0.3' }, ipv6: true, gossip: { clusterKey: KEY_A } },
  ];
}

const TOKENS = [
  '"name"', '"backend"', '"wireguard"', '"mixed"', '"vxlan"', '"gossip"', '"peers"', '"subnet"', '"underlay"', '"address"', '"mtu"', '"port"',
  '"clusterKey"', '"privateKeyFile"', '"configFile"', '"stateDir"', '"__proto__"', '"constructor"', 'null', 'true', '[]', '{}', '[{}]', '""',
  '"10.244.0.0/16"', '"fd00::/64"', '"ipv6"', '"clusterCidr"', '"10.244.0.0/16,fd00:10:244::/56"', '"fd00:10:244:1::/64"', '"fe80::/56"', '"::"', '"0.0.0.0/0"', '"999.1.1.1"', '1e308', '-1', '1.5', '0x10',
];
const YAML_TOKENS = [
  '&a ', '*a', '&b [*b]', '<<: *a', '!!binary aGVsbG8=', '!!set ', '!!omap ', '!!str ', '!!int ', '!!float .nan', '.inf', '-.inf', '~', '---\n', '...\n',
  '? ', '|\n  x', '>-\n  y', '- ', ': ', '{', '}', '[', ']', '"\\u0000"', "'", '#', '%YAML 1.2\n', '!!timestamp 2001-12-14',
];
const STRANGE_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, Number.MAX_SAFE_INTEGER, 1e308, -0, '', ' ', 'x', '\u0000', '10.244.1.0/24', '::/0', '999.1.1.1:1', '[fd00::1]:0', [], [null], {}, { '': 1 },
  { __proto__: null, constructor: 1 }, 'a'.repeat(300), KEY_A, `${KEY_A}=`, 'off', 'batch', 'dgram', 'private.key', '../private.key', 'nonexistent.key', '.', 'wg0.conf', 'junk.conf',
];

/** The error codes loading may end in, and how their messages name what is wrong. */
function checkError(err: unknown, i: number, input: string): void {
  if (!(err instanceof WeftError)) {
    throw new Error(`input ${i} threw an untyped ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message}\n${input.slice(0, 2000)}`, { cause: err });
  }
  const m = err.message;
  if (err.code === 'CONFIG_INVALID') {
    check(
      /config field "[^"]*"/u.test(m) || /^config file .+ (is not valid (JSON|YAML): |must hold an object of fields)/su.test(m) || // wireguard.configFile's own errors name its file and line.
        /^\/\S+( line \d+: |: \[Interface\] needs a PrivateKey)/u.test(m),
      `input ${i}: CONFIG_INVALID names no field: ${m}`,
    );
  } else if (err.code === 'CONFIG_UNREADABLE') {
    check(/^(cannot read config file |config field "[^"]+": cannot read )/u.test(m), `input ${i}: CONFIG_UNREADABLE names nothing: ${m}`);
  } else {
    throw new Error(`input ${i}: unexpected code ${err.code}: ${m}`);
  }
}

function checkConfig(c: NodeConfig, i: number): void {
  check(/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/u.test(c.name), `input ${i}: name ${c.name}`);
  check(Number.isInteger(c.underlay.mtu) && c.underlay.mtu >= 576 && c.underlay.mtu <= 65535, `input ${i}: mtu`);
  check(c.vxlan.port >= 1 && c.vxlan.port <= 65535 && c.vxlan.vtepMac.length === 6 && (c.vxlan.vtepMac[0]! & 1) === 0, `input ${i}: vxlan`);
  check(c.ring.slots >= 64 && c.ring.slots <= 1 << 20, `input ${i}: ring`);
  check(c.subnet !== undefined || c.subnet6 !== undefined || c.gossip !== undefined, `input ${i}: no subnet and no gossip`);
  check(c.clusterCidr !== undefined || c.clusterCidr6 !== undefined, `input ${i}: no cluster CIDR`);
  // Per family: each subnet inside its cluster, an IPv6 one only with an IPv6 cluster, and without gossip one per enabled family.
  check(c.clusterCidr === undefined ? c.subnet === undefined : c.clusterCidr.family === 4 && (c.subnet === undefined || (c.subnet.family === 4 && c.subnet.bits >= c.clusterCidr.bits)), `input ${i}: IPv4 network`);
  check(c.clusterCidr6 === undefined || (c.clusterCidr6.family === 6 && c.clusterCidr6.bits >= 48 && c.clusterCidr6.bits <= 64), `input ${i}: IPv6 cluster`);
  check(c.subnet6 === undefined || (c.clusterCidr6 !== undefined && c.subnet6.family === 6 && c.subnet6.bits >= c.clusterCidr6.bits), `input ${i}: IPv6 subnet`);
  check(c.gossip !== undefined || c.clusterCidr6 === undefined || c.subnet6 !== undefined, `input ${i}: dual-stack without an IPv6 subnet`);
  if (c.wireguard) check(c.wireguard.privateKey.length === 32 && c.wireguard.listenPort >= 1 && c.wireguard.listenPort <= 65535, `input ${i}: wireguard`);
  if (c.gossip) check(c.gossip.keys.length >= 1 && c.gossip.keys.every((k) => k.length === 32), `input ${i}: gossip keys`);
  const names = new Set(c.peers.map((p) => p.name));
  check(names.size === c.peers.length && !names.has(c.name), `input ${i}: peer names`);
}

/** One random edit of a parsed config: a field set to a strange value, removed, or added. */
function mutateObject(f: Fuzz, o: unknown, depth = 0): unknown {
  if (typeof o !== 'object' || o === null || depth > 3 || f.chance(0.15)) {
    const r = f.rand();
    if (r < 0.5) return f.pick(STRANGE_VALUES);
    if (r < 0.7) return typeof o === 'string' ? f.mutateText(o) : f.text(20);
    if (r < 0.9) return Number(f.pick(BOUNDARY_NUMBERS));
    return f.pick(BOUNDARY_NUMBERS);
  }
  if (Array.isArray(o)) {
    const a = [...o];
    if (a.length > 0 && f.chance(0.7)) a[f.int(a.length)] = mutateObject(f, a[f.int(a.length)], depth + 1);
    else if (a.length > 0 && f.chance(0.5)) a.push(a[f.int(a.length)]); // a duplicate entry
    else a.push(f.pick(STRANGE_VALUES));
    return a;
  }
  const copy: Record<string, unknown> = { ...(o as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const r = f.rand();
  if (keys.length > 0 && r < 0.7) {
    const k = f.pick(keys);
    copy[k] = mutateObject(f, copy[k], depth + 1);
  } else if (keys.length > 0 && r < 0.85) delete copy[f.pick(keys)];
  else copy[f.pick(['extra', 'Name', '__proto__', 'constructor', 'toString', 'peers', 'subnet'])] = f.pick(STRANGE_VALUES);
  return copy;
}

describe(`config loading under hostile input (seed ${SEED.toString(16)})`, () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-config-fuzz-'));
    writeFileSync(join(dir, 'private.key'), `${KEY_B}\n`);
    writeFileSync(join(dir, 'cluster.key'), `${KEY_C}\n`);
    writeFileSync(join(dir, 'wg0.conf'), `[Interface]\nPrivateKey = ${KEY_A}\nListenPort = 51821\n\n[Peer]\nPublicKey = ${KEY_B}\nAllowedIPs = 10.244.20.0/24\nEndpoint = 192.0.2.20:51820\n`);
    writeFileSync(join(dir, 'junk.conf'), '[Interface]\nPrivateKey = nope\n');
    mkdirSync(join(dir, 'state'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads every configuration of the corpus, as JSON and as YAML', () => {
    for (const [i, c] of corpus().entries()) {
      writeFileSync(join(dir, 'c.json'), JSON.stringify(c));
      writeFileSync(join(dir, 'c.yaml'), toYaml(c));
      const a = loadConfig(join(dir, 'c.json'), {}, {});
      const b = loadConfig(join(dir, 'c.yaml'), {}, {});
      checkConfig(a, i);
      expect(a.name).toBe(c.name);
      expect(b.subnet && formatCidr(b.subnet)).toBe(a.subnet && formatCidr(a.subnet));
    }
  });

  it('names the field of a YAML alias loop instead of throwing a TypeError', () => {
    for (const text of ['name: &a [*a]\n', 'name: n\nsubnet: 10.244.1.0/24\nunderlay: &a {address: *a}\n', 'name: n\nsubnet: 10.244.1.0/24\nunderlay: {address: 10.0.0.1}\npeers: &p [*p]\n']) {
      writeFileSync(join(dir, 'loop.yaml'), text);
      let err: unknown;
      try {
        loadConfig(join(dir, 'loop.yaml'), {}, {});
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WeftError);
      expect((err as WeftError).code).toBe('CONFIG_INVALID');
      expect((err as WeftError).message).toMatch(/config field "(name|underlay\.address|peers\[0\])"/u);
    }
  });

  it(`loads or refuses ${COUNT} random and mutated JSON, YAML, object, flag and environment inputs, always with a typed error naming the field`, () => {
    const f = new Fuzz(SEED);
    const valid = corpus();
    const jsonCorpus = valid.map((c) => JSON.stringify(c, null, f.chance(0.5) ? 2 : 0));
    const yamlCorpus = valid.map((c) => toYaml(c));
    const counts = { ok: 0, invalid: 0, unreadable: 0 };
    let slowest = 0;
    // yaml warns on stderr about odd keys (a collection as a key); thousands of those would bury the output.
    const warn = process.emitWarning;
    process.emitWarning = () => {};
    try {
      for (let i = 0; i < COUNT; i++) {
        const r = f.rand();
        let input = '';
        let expectOk = false;
        let run: () => NodeConfig;
        if (r < 0.5) {
          // Text: pure noise, or a mutated valid file, as JSON or YAML.
          const yaml = f.chance(0.4);
          const base = yaml ? yamlCorpus : jsonCorpus;
          input = f.chance(0.15) ? f.text(200) : f.mutateText(f.pick(base), yaml ? [...YAML_TOKENS, ...TOKENS] : TOKENS, base);
          const path = join(dir, yaml ? (f.chance(0.5) ? 'fuzz.yaml' : 'fuzz.YML') : 'fuzz.json');
          writeFileSync(path, input);
          run = () => loadConfig(path, {}, {});
        } else if (r < 0.8) {
          // Structure: a valid config with fields set to strange values, removed or added.
          let raw: unknown = structuredClone(f.pick(valid));
          for (let k = 1 + f.int(3); k > 0; k--) raw = mutateObject(f, raw);
          input = JSON.stringify(raw) ?? String(raw);
          run = () => parseConfig(raw, dir);
        } else {
          // Flags and environment variables over a valid file (or none).
          const base = f.int(valid.length);
          const flags: Record<string, string> = {};
          const env: Record<string, string> = {};
          const valueFor = (o: (typeof OVERRIDES)[number]): string => {
            if (f.chance(0.5)) return f.pick([...BOUNDARY_NUMBERS, 'x', ' ', '10.244.1.0/24', 'wireguard', 'weft1', '127.0.0.1:1', '192.0.2.1', 'nonexistent.key']);
            return o.numeric ? String(f.int(70000)) : f.text(24);
          };
          for (let k = 1 + f.int(3); k > 0; k--) {
            const o = f.pick(OVERRIDES);
            (f.chance(0.5) ? flags : env)[f.chance(0.5) ? o.flag : o.env] = valueFor(o);
          }
          // A known good override: the name, which must win over the file's.
          if (f.chance(0.3)) {
            flags['--name'] = `n${f.int(1000)}`;
            expectOk = Object.keys(flags).length === 1 && Object.keys(env).length === 0 && base !== 1 && base !== 3 && base !== 4;
          }
          input = JSON.stringify({ base, flags, env });
          const path = join(dir, 'base.json');
          writeFileSync(path, JSON.stringify(valid[base]));
          run = () => loadConfig(path, flags, env);
        }
        let config: NodeConfig;
        const t0 = performance.now();
        try {
          config = run();
        } catch (err) {
          slowest = Math.max(slowest, performance.now() - t0);
          checkError(err, i, input);
          check(!expectOk, `input ${i}: a valid override was refused: ${(err as Error).message}`);
          if ((err as WeftError).code === 'CONFIG_INVALID') counts.invalid++;
          else counts.unreadable++;
          continue;
        }
        slowest = Math.max(slowest, performance.now() - t0);
        checkConfig(config, i);
        counts.ok++;
      }
    } finally {
      process.emitWarning = warn;
    }
    // No input makes loading hang: the slowest one is far below a second (a JIT warm-up or GC pause included).
    expect(slowest).toBeLessThan(2000);
    expect(counts.ok).toBeGreaterThan(COUNT * 0.02);
    expect(counts.invalid).toBeGreaterThan(COUNT * 0.3);
  }, Math.max(30_000, COUNT * 3));
});
