/**
 * `weft cni install` and `weft cni conflist`: put weft-cni where a container
 * runtime finds it, and write the network configuration list that names it,
 * from this node's config, as Flannel's install step does for its plugin.
 *
 * The installed plugin is a two-line shell wrapper holding absolute paths
 * to this node binary and to the compiled plugin: runtimes may run plugins
 * with no PATH (the CNI specification passes only CNI_* variables), so
 * neither `node` nor `weft-cni` may be looked up there.
 */
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { WeftError } from '../errors.ts';
import { loadConfig } from './config-load.ts';

export const CNI_USAGE = `  cni install [--bin-dir DIR]
                      install the weft CNI plugin as DIR/weft (default /opt/cni/bin;
                      Debian's plugins are in /usr/lib/cni)
  cni conflist [--config FILE] [--out PATH] [--network NAME] [--cni-version V]
               [--data-dir DIR] [--portmap]
                      print (or write to PATH) the conflist that attaches containers
                      to this node: the weft plugin, reading the node's subnet.env
                      (addresses kept in DIR, default /var/lib/weft/cni), then
                      portmap if asked`;

/**
 * libcni before 1.2 (podman 4, containerd 1.7) refuses a conflist of a
 * version it does not know, so the conflist says 1.0.0, which all read, and
 * lists 1.1.0 in `cniVersions` (SPEC.md, "Version considerations"): a
 * runtime that knows 1.1.0 picks it, and with it GC and STATUS.
 */
const DEFAULT_CONFLIST_VERSION = '1.0.0';
const NEGOTIATED_VERSIONS = ['1.0.0', '1.1.0'];

function writeAtomic(path: string, text: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode });
  chmodSync(temp, mode); // whatever the umask
  renameSync(temp, path);
}

/** The compiled plugin beside this file: dist/src/cni/main.js. */
function compiledPlugin(): string {
  const main = join(import.meta.dirname, '..', 'cni', 'main.js');
  if (!existsSync(main)) throw new WeftError('CONFIG_UNREADABLE', `${main} is missing; build weft first (npm install)`);
  return main;
}

/** The wrapper a runtime executes: absolute interpreter and plugin, nothing from PATH. */
export function pluginWrapper(nodeBinary: string, plugin: string): string {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  return `#!/bin/sh\n# weft-cni, installed by weft cni install; runtimes may run it without PATH.\nexec ${quote(nodeBinary)} ${quote(plugin)} "$@"\n`;
}

export function installPlugin(binDir: string): string {
  const target = join(binDir, 'weft');
  // 0755: the runtime (root) executes it; nothing secret is inside.
  writeAtomic(target, pluginWrapper(process.execPath, compiledPlugin()), 0o755);
  return target;
}

export interface ConflistOptions {
  network: string;
  cniVersion: string;
  subnetEnv: string;
  controlSocket: string;
  /** Where the plugin keeps its address reservations; undefined for its default. */
  dataDir: string | undefined;
  portmap: boolean;
}

export function conflistText(o: ConflistOptions): string {
  const plugins: Array<Record<string, unknown>> = [{ type: 'weft', subnetEnv: o.subnetEnv, controlSocket: o.controlSocket, ...(o.dataDir === undefined ? {} : { dataDir: o.dataDir }) }];
  if (o.portmap) plugins.push({ type: 'portmap', capabilities: { portMappings: true } });
  const versions = o.cniVersion === DEFAULT_CONFLIST_VERSION ? { cniVersions: NEGOTIATED_VERSIONS } : {};
  return `${JSON.stringify({ cniVersion: o.cniVersion, ...versions, name: o.network, plugins }, null, 2)}\n`;
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new WeftError('CONFIG_INVALID', `${name} needs a value`);
  return v;
}

/** Run `weft cni ...`; returns what to print. Throws WeftError for the caller to report. */
export function cniCommand(args: string[]): string {
  const [sub, ...rest] = args;
  const known: Record<string, string[]> = { install: ['--bin-dir'], conflist: ['--config', '--out', '--network', '--cni-version', '--data-dir', '--portmap'] };
  if (sub === undefined || known[sub] === undefined) throw new WeftError('CONFIG_INVALID', `weft cni needs install or conflist, got ${JSON.stringify(sub ?? '')}\n${CNI_USAGE}`);
  for (const a of rest) if (a.startsWith('--') && !known[sub]!.includes(a)) throw new WeftError('CONFIG_INVALID', `unknown option for cni ${sub}: ${a}`);
  if (sub === 'install') return `installed ${installPlugin(option(rest, '--bin-dir') ?? '/opt/cni/bin')}\n`;
  const config = loadConfig(option(rest, '--config') ?? process.env.WEFT_CONFIG);
  const text = conflistText({
    network: option(rest, '--network') ?? 'weft',
    cniVersion: option(rest, '--cni-version') ?? DEFAULT_CONFLIST_VERSION,
    subnetEnv: config.subnetEnv,
    controlSocket: config.controlSocket,
    dataDir: option(rest, '--data-dir'),
    portmap: rest.includes('--portmap'),
  });
  const out = option(rest, '--out');
  if (out === undefined) return text;
  writeAtomic(out, text, 0o644);
  return `wrote ${out}\n`;
}
