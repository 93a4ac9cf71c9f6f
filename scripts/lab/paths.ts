/**
 * Where weft is on this machine, for everything that runs the real binary:
 * the cluster script and the demo, and the tests and benches. Found from
 * this file upwards, so it holds from the sources (scripts/lab) and from
 * dist/scripts/lab alike.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The package root: the nearest directory above this file with a package.json. */
export const PACKAGE_ROOT = ((): string => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

/** The compiled CLI (dist/src/cli/main.js); throws, with `howToBuild` as the remedy, when it is missing. */
export function compiledWeft(howToBuild: string): string {
  const main = join(PACKAGE_ROOT, 'dist/src/cli/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: ${howToBuild}`);
  return main;
}
