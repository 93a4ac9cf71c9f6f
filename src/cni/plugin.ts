/**
 * The plugin as a function: environment and stdin in, stdout text and exit
 * status out. main.ts runs it as the program; tests call it directly.
 * Nothing escapes as an exception: whatever the input, the runtime reads JSON
 * it understands (a result, or the specification's error JSON with status 1).
 */
import { runCommand } from './commands.ts';
import { readParameters } from './environment.ts';
import { parseJsonObject } from './net-config.ts';
import { CniError, ErrorCode, errorJson, isSupportedVersion, LATEST_VERSION } from './spec.ts';

export async function runPlugin(env: NodeJS.ProcessEnv, input: () => string): Promise<{ stdout: string; status: number }> {
  let version: string = LATEST_VERSION;
  try {
    const params = readParameters(env);
    const text = input();
    const stdin = text.trim() === '' ? undefined : parseJsonObject(text);
    // Errors speak the configuration's version when it is one weft-cni knows.
    if (typeof stdin?.cniVersion === 'string' && isSupportedVersion(stdin.cniVersion)) version = stdin.cniVersion;
    const out = await runCommand(params, stdin);
    return { stdout: out === '' ? '' : `${out}\n`, status: 0 };
  } catch (err) {
    const e = err instanceof CniError ? err : new CniError(ErrorCode.IO_FAILURE, 'weft-cni failed unexpectedly', (err as Error).stack ?? String(err));
    return { stdout: `${errorJson(e, version)}\n`, status: 1 };
  }
}
