#!/usr/bin/env node
/**
 * The `weft` command. Exit codes: 0 success, 1 a runtime failure (a device,
 * a permission, a config file), 2 a usage error.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { CONTROL_DIR, controlPath } from './control.ts';
import { request } from '../transport/control-client.ts';
import { showconf } from './showconf.ts';
import { formatStatus } from './status-format.ts';
import type { NodeStatus } from './status-format.ts';
import { isWeftError } from '../errors.ts';
import { OVERRIDES } from './config-load.ts';
import { keyCommand } from './keys.ts';
import { CNI_USAGE, cniCommand } from './cni-command.ts';
import { createLogger } from './log.ts';
import { startNode } from './up.ts';
import type { RunningNode } from './up.ts';

const USAGE = `usage: weft <command> [options]

commands:
  up [--config FILE] [overrides]
                      run this node's overlay router until SIGTERM or SIGINT
                      (SIGHUP reloads the peers from FILE; SIGUSR1 logs status).
                      FILE is JSON, or YAML (.yaml/.yml). Flags, then WEFT_*
                      variables, override it: --name, --backend, --subnet,
                      --cluster-cidr, --underlay-address, --underlay-mtu, --tun,
                      --metrics, --private-key-file, --listen-port
  status [--json] [--node NAME | --socket PATH]
                      show a running node: its subnet, device, and each peer's
                      endpoint, handshake and transfer (as wg show), and drops
  forget NODE [--node NAME | --socket PATH]
                      end the tombstone of NODE, dead or gone, on this node
                      and (by gossip) on every node, so that NODE reinstalled
                      with a new key joins at once rather than in 10 minutes
  showconf PEER [--private-key FILE] [--node NAME | --socket PATH]
                      print a wg-quick file with which PEER, a machine running
                      stock WireGuard, joins the overlay through this node
${CNI_USAGE}
  genkey              print a new private key (base64, as wg genkey)
  pubkey              read a private key on stdin, print its public key
  genpsk              print a new preshared key
  version             print the version
  help                print this help

environment:
  WEFT_LOG_LEVEL      debug, info (default), warn or error
  WEFT_CONFIG         the config file, when --config is not given
  WEFT_NAME, WEFT_SUBNET, ...  the overrides above, as WEFT_ and the flag in capitals
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usageError(message: string): never {
  process.stderr.write(`weft: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) usageError(`${name} needs a value`);
  return value;
}

async function up(args: string[]): Promise<void> {
  const known = new Set(['--config', ...OVERRIDES.map((o) => o.flag)]);
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]!;
    if (!known.has(name)) usageError(`unknown option for up: ${name}`);
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) usageError(`${name} needs a value`);
    flags[name] = value;
  }
  const configPath = flags['--config'] ?? process.env.WEFT_CONFIG;
  delete flags['--config'];
  const log = createLogger();
  // Signals are handled before startNode makes anything: a SIGTERM or SIGINT
  // during start-up aborts it, and startNode unwinds what it had made.
  const startup = new AbortController();
  let node: RunningNode | undefined;
  let stopping = false;
  const stopNode = (running: RunningNode, signal: string) =>
    running.stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('stop failed', { error: (err as Error).message });
        process.exit(1);
      },
    );
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (node === undefined) startup.abort(signal);
    else void stopNode(node, signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP's default action is to exit, leaving what start-up made: until the
  // node's reload handler is in place, remember it and reload once started.
  let reloadPending = false;
  const hupDuringStart = () => {
    reloadPending = true;
  };
  process.on('SIGHUP', hupDuringStart);
  try {
    node = await startNode(configPath, flags, log, startup.signal);
  } catch (err) {
    if (startup.signal.aborted) {
      log.info('stopped during start-up', { reason: String(startup.signal.reason) });
      process.exit(0);
    }
    log.error('start failed', { code: isWeftError(err) ? err.code : 'UNEXPECTED', error: (err as Error).message });
    process.exit(1);
  }
  process.off('SIGHUP', hupDuringStart);
  // A signal after startNode's last check: it started, so stop it now.
  if (startup.signal.aborted) await stopNode(node, String(startup.signal.reason));
  else if (reloadPending) process.kill(process.pid, 'SIGHUP');
}

/** The control socket named by --socket or --node, or the only one on this machine. */
function resolveSocket(args: string[]): string {
  const explicit = flag(args, '--socket');
  const node = flag(args, '--node');
  if (explicit) return explicit;
  if (node) return controlPath(node);
  let sockets: string[] = [];
  try {
    sockets = readdirSync(CONTROL_DIR).filter((f) => f.endsWith('.sock'));
  } catch {
    // no directory: nothing runs
  }
  if (sockets.length === 1) return `${CONTROL_DIR}/${sockets[0]}`;
  if (sockets.length === 0) fail(`no weft node is running (no socket in ${CONTROL_DIR}); start one with weft up`);
  fail(`several weft nodes run here (${sockets.map((f) => f.replace(/\.sock$/u, '')).join(', ')}); choose one with --node NAME`);
}

function checkOptions(args: string[], command: string, allowed: string[]): void {
  for (let i = 0; i < args.length; i += 2) {
    if (!allowed.includes(args[i]!)) usageError(`unknown option for ${command}: ${args[i]}`);
  }
}

async function status(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  checkOptions(rest, 'status', ['--node', '--socket']);
  try {
    const s = (await request(resolveSocket(rest), 'status')) as NodeStatus;
    process.stdout.write(json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
  } catch (err) {
    fail((err as Error).message);
  }
}

async function showconfCommand(args: string[]): Promise<void> {
  const [peer, ...rest] = args;
  if (peer === undefined || peer.startsWith('--')) usageError('showconf needs the name of a peer');
  checkOptions(rest, 'showconf', ['--node', '--socket', '--private-key']);
  const keyFile = flag(rest, '--private-key');
  try {
    const key = keyFile === undefined ? undefined : readFileSync(keyFile, 'utf8').trim();
    const s = (await request(resolveSocket(rest), 'status')) as NodeStatus;
    process.stdout.write(showconf(s, peer, key));
  } catch (err) {
    fail((err as Error).message);
  }
}

async function forgetCommand(args: string[]): Promise<void> {
  const [target, ...rest] = args;
  if (target === undefined || target.startsWith('--')) usageError('forget needs the name of a node');
  checkOptions(rest, 'forget', ['--node', '--socket']);
  try {
    await request(resolveSocket(rest), 'forget', 5000, { name: target });
    process.stdout.write(`forgot ${target}: its tombstone is gone here, and gossip tells the other nodes; it may rejoin with a new key\n`);
  } catch (err) {
    fail((err as Error).message);
  }
}

function fail(message: string): never {
  process.stderr.write(`weft: ${message}\n`);
  process.exit(1);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up':
      return up(rest);
    case 'status':
      return status(rest);
    case 'showconf':
      return showconfCommand(rest);
    case 'forget':
      return forgetCommand(rest);
    case 'genkey':
    case 'pubkey':
    case 'genpsk':
      try {
        return await keyCommand(command);
      } catch (err) {
        process.stderr.write(`weft ${command}: ${(err as Error).message}\n`);
        process.exit(1);
      }
    case 'cni':
      try {
        process.stdout.write(cniCommand(rest));
        return;
      } catch (err) {
        return fail((err as Error).message);
      }
    case 'version':
    case '--version':
      process.stdout.write(`weft ${version()}\n`);
      return;
    case 'help':
    case '--help':
    case '-h':
    case undefined:
      process.stdout.write(USAGE);
      return;
    default:
      usageError(`unknown command "${command}"`);
  }
}

await main(process.argv.slice(2));
