/**
 * Where a node's configuration comes from, in order of precedence:
 * command-line flags, then WEFT_* environment variables, then the file
 * (JSON, or YAML for .yaml/.yml). The merged object is validated once by
 * parseConfig, so an error names the config field whichever source set it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { generateKeyText } from '../crypto/keys.ts';
import { parse as parseYaml } from 'yaml';
import { WeftError } from '../errors.ts';
import { parseConfig } from './config.ts';
import type { NodeConfig } from './config.ts';

/** One overridable field: its flag, its environment variable, its path in the file, its type. */
interface Override {
  flag: string;
  env: string;
  path: string[];
  numeric: boolean;
}

export const OVERRIDES: readonly Override[] = [
  { flag: '--name', env: 'WEFT_NAME', path: ['name'], numeric: false },
  { flag: '--backend', env: 'WEFT_BACKEND', path: ['backend'], numeric: false },
  { flag: '--subnet', env: 'WEFT_SUBNET', path: ['subnet'], numeric: false },
  { flag: '--cluster-cidr', env: 'WEFT_CLUSTER_CIDR', path: ['clusterCidr'], numeric: false },
  { flag: '--underlay-address', env: 'WEFT_UNDERLAY_ADDRESS', path: ['underlay', 'address'], numeric: false },
  { flag: '--underlay-mtu', env: 'WEFT_UNDERLAY_MTU', path: ['underlay', 'mtu'], numeric: true },
  { flag: '--tun', env: 'WEFT_TUN', path: ['tun', 'name'], numeric: false },
  { flag: '--metrics', env: 'WEFT_METRICS', path: ['metrics', 'listen'], numeric: false },
  { flag: '--private-key-file', env: 'WEFT_PRIVATE_KEY_FILE', path: ['wireguard', 'privateKeyFile'], numeric: false },
  { flag: '--listen-port', env: 'WEFT_LISTEN_PORT', path: ['wireguard', 'listenPort'], numeric: true },
  { flag: '--realtime-priority', env: 'WEFT_REALTIME_PRIORITY', path: ['scheduling', 'priority'], numeric: true },
];

function readFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new WeftError('CONFIG_UNREADABLE', `cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const yaml = ['.yaml', '.yml'].includes(extname(path).toLowerCase());
  let raw: unknown;
  try {
    raw = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new WeftError('CONFIG_INVALID', `config file ${path} is not valid ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message}`, { cause: err });
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new WeftError('CONFIG_INVALID', `config file ${path} must hold an object of fields, not ${Array.isArray(raw) ? 'a list' : typeof raw}`);
  return raw as Record<string, unknown>;
}

function set(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj;
  for (const key of path.slice(0, -1)) {
    const next = o[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) o[key] = {};
    o = o[key] as Record<string, unknown>;
  }
  o[path.at(-1)!] = value;
}

/**
 * The merged configuration. `path` may be undefined when flags and the
 * environment say everything; `flags` maps flag names to values.
 */
export function loadConfig(path: string | undefined, flags: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const raw = path === undefined ? {} : readFile(path);
  for (const o of OVERRIDES) {
    const value = flags[o.flag] ?? env[o.env];
    if (value === undefined) continue;
    // A number field given as text stays text when it is not a number, so validation names it.
    set(raw, o.path, o.numeric && /^\d+$/u.test(value) ? Number(value) : value);
  }
  const baseDir = path === undefined ? process.cwd() : dirname(resolve(path));
  const newKeyFile = defaultWireguardKey(raw, baseDir);
  const config = parseConfig(raw, baseDir);
  if (newKeyFile !== undefined && config.wireguard !== undefined) config.wireguard.generatedKeyFile = newKeyFile;
  return config;
}

/**
 * A WireGuard node given no key keeps one in its state directory, made on
 * first start (as wg genkey would) and reused after: a node's identity must
 * survive restarts, and an operator of a gossip cluster need not hand out keys.
 *
 * Nothing is written here: a new key goes into the config inline and is
 * saved (startNode, saveGeneratedKey) only once every check has passed, so
 * a config that fails validation leaves no file behind.
 */
function defaultWireguardKey(raw: Record<string, unknown>, baseDir: string): string | undefined {
  if (raw.backend !== 'wireguard' && raw.backend !== 'mixed') return undefined;
  // A wireguard section that is not an object is the config's mistake to report (parseConfig), not one to fill in.
  if (raw.wireguard !== undefined && (typeof raw.wireguard !== 'object' || raw.wireguard === null || Array.isArray(raw.wireguard))) return undefined;
  const wg = (raw.wireguard ?? {}) as Record<string, unknown>;
  if (wg.privateKey !== undefined || wg.privateKeyFile !== undefined || wg.configFile !== undefined) return undefined;
  const stateDir = resolve(baseDir, typeof raw.stateDir === 'string' ? raw.stateDir : '/var/lib/weft');
  const file = join(stateDir, 'wireguard.key');
  if (existsSync(file)) {
    set(raw, ['wireguard', 'privateKeyFile'], file);
    return undefined;
  }
  set(raw, ['wireguard', 'privateKey'], generateKeyText());
  return file;
}
