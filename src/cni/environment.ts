/**
 * The runtime's parameters, from environment variables (SPEC.md section 2,
 * "Parameters"), checked per command: each command needs its own set, and a
 * missing or malformed one is error 4 naming the variable.
 */
import { CniError, ErrorCode } from './spec.ts';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'] as const;
export type Command = (typeof COMMANDS)[number];

export interface Parameters {
  command: Command;
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS as key/value pairs. */
  args: ReadonlyMap<string, string>;
  /** CNI_PATH's directories, in order. */
  path: readonly string[];
}

/** Which variables each command must be given (SPEC.md, each command's "Required environment parameters"). */
const REQUIRED: Record<Command, ReadonlyArray<'CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME'>> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  STATUS: [],
  GC: [],
  VERSION: [],
};

/** The specification's container ID: alphanumeric first, then alphanumerics, "_", "." or "-". */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/u;
/** What Linux takes as an interface name: 1 to 15 bytes, no "/", ":" or whitespace, not "." or "..". */
const IFNAME = /^[^/:\s]{1,15}$/u;

function invalid(variable: string, details: string): CniError {
  return new CniError(ErrorCode.INVALID_ENVIRONMENT, `invalid ${variable}`, details);
}

export function readCommand(env: NodeJS.ProcessEnv): Command {
  const command = env.CNI_COMMAND;
  if (command === undefined || command === '') {
    throw invalid('CNI_COMMAND', `CNI_COMMAND is not set; a runtime sets it to one of ${COMMANDS.join(', ')} (weft-cni is a CNI plugin, run by a container runtime)`);
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw invalid('CNI_COMMAND', `CNI_COMMAND=${JSON.stringify(command)} is not a command of CNI 1.1.0; expected one of ${COMMANDS.join(', ')}`);
  }
  return command as Command;
}

export function readParameters(env: NodeJS.ProcessEnv): Parameters {
  const command = readCommand(env);
  for (const name of REQUIRED[command]) {
    if (env[name] === undefined || env[name] === '') throw invalid(name, `${command} needs ${name}, which is not set`);
  }
  // Only what the command needs is read: libcni probes VERSION with placeholders
  // such as CNI_NETNS=dummy, which must not fail it.
  const needs = (name: string) => (REQUIRED[command] as readonly string[]).includes(name);
  const containerId = needs('CNI_CONTAINERID') ? env.CNI_CONTAINERID! : '';
  if (containerId !== '' && !CONTAINER_ID.test(containerId)) {
    throw invalid('CNI_CONTAINERID', `${JSON.stringify(containerId)} must start with a letter or digit, followed by letters, digits, "_", "." or "-"`);
  }
  const ifname = needs('CNI_IFNAME') ? env.CNI_IFNAME! : '';
  if (ifname !== '' && (!IFNAME.test(ifname) || ifname === '.' || ifname === '..')) {
    throw invalid('CNI_IFNAME', `${JSON.stringify(ifname)} is not a Linux interface name (1 to 15 characters, no "/", ":" or spaces)`);
  }
  const netns = needs('CNI_NETNS') ? env.CNI_NETNS! : '';
  if (netns !== '' && !netns.startsWith('/')) {
    throw invalid('CNI_NETNS', `${JSON.stringify(netns)} must be the absolute path of a network namespace, such as /run/netns/<name>`);
  }
  return { command, containerId, netns, ifname, args: parseArgs(env.CNI_ARGS ?? ''), path: (env.CNI_PATH ?? '').split(':').filter((p) => p !== '') };
}

/** "FOO=BAR;ABC=123" to a map; a pair without "=" is error 4. */
function parseArgs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw invalid('CNI_ARGS', `${JSON.stringify(pair)} is not KEY=VALUE; CNI_ARGS is KEY=VALUE pairs separated by ";"`);
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}
