#!/usr/bin/env node
/**
 * weft-cni: the CNI plugin that attaches containers to the weft node
 * running on this machine (docs/CNI.md). A runtime runs it with CNI_*
 * environment variables and the network configuration on stdin; it answers
 * on stdout with a result, or with the specification's error JSON and a
 * non-zero exit (plugin.ts).
 *
 * Installed by `weft cni install`, which writes a wrapper naming this file
 * and the node binary by absolute path, since a runtime may run plugins
 * without PATH.
 */
import { readFileSync } from 'node:fs';
import { runPlugin } from './plugin.ts';
import { CniError, ErrorCode } from './spec.ts';

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A closed or absent stdin is an empty configuration, not an I/O failure.
    if (code === 'EAGAIN' || code === 'EOF' || code === 'ENXIO') return '';
    throw new CniError(ErrorCode.IO_FAILURE, 'cannot read stdin', (err as Error).message);
  }
}

const { stdout, status } = await runPlugin(process.env, readStdin);
process.stdout.write(stdout, () => process.exit(status));
