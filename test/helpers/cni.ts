/**
 * Running weft-cni exactly as a runtime does (SPEC.md section 2): the
 * installed executable, an environment holding only the CNI_* variables (no
 * PATH, no HOME), the request configuration on stdin, and, for the host
 * side, the runtime's network namespace (here a node's, through nsenter).
 */
import { spawn } from 'node:child_process';

export interface PluginRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface PluginCall {
  /** The installed plugin (the wrapper `weft cni install` writes). */
  plugin: string;
  command: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** CNI_PATH; the runtime always passes it. */
  path?: string;
  /** The namespace the runtime runs in; the host end of each veth lands there. */
  runtimeNetns?: string;
  /** Extra or overriding variables, for the error cases (undefined removes one). */
  env?: Record<string, string | undefined>;
}

/** Run the plugin with `stdin` (an object is sent as JSON, a string as it is). */
export function runPlugin(call: PluginCall, stdin: unknown): Promise<PluginRun> {
  const env: Record<string, string> = {};
  const set = (k: string, v: string | undefined) => {
    if (v !== undefined) env[k] = v;
  };
  set('CNI_COMMAND', call.command);
  set('CNI_CONTAINERID', call.containerId);
  set('CNI_NETNS', call.netns);
  set('CNI_IFNAME', call.ifname);
  set('CNI_PATH', call.path ?? '/opt/cni/bin');
  for (const [k, v] of Object.entries(call.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  // nsenter is the test's own way into the node; the plugin itself still gets only `env`.
  const [file, args] = call.runtimeNetns === undefined ? [call.plugin, []] : ['/usr/bin/nsenter', [`--net=/run/netns/${call.runtimeNetns}`, call.plugin]];
  return new Promise((resolve) => {
    const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ status: null, stdout, stderr: `${stderr}${err.message}` });
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.on('error', () => {
      // the plugin may exit before reading stdin
    });
    child.stdin.end(typeof stdin === 'string' ? stdin : JSON.stringify(stdin));
  });
}

/** A conflist's plugin entry as the runtime hands it over: the list's name and version inserted. */
export function requestConfig(conflist: { name: string; plugins: Array<Record<string, unknown>> }, cniVersion: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion, name: conflist.name, ...conflist.plugins[0], ...extra };
}
