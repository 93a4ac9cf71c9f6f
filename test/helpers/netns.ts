/**
 * The namespace sandbox for integration tests and benches. The lab itself
 * (NetnsSandbox: namespaces named `weft-t-<pid>-<n>`, veth pairs, commands
 * and processes inside them, teardown that always runs) is
 * scripts/lab/netns.ts, shared with the cluster script and the demo, which
 * are compiled and run by users and so cannot import from test/. What is
 * the tests' own stays here.
 */
export { NetnsSandbox } from '../../scripts/lab/netns.ts';
export type { ExecOptions, ExecResult, SandboxProcess } from '../../scripts/lab/netns.ts';

/**
 * True when this process may create namespaces and devices (root). When it
 * may not, tests skip (`it.skipIf(!root)`) - except under CI=true, where a
 * skipped integration test would hide a broken setup, so this throws.
 */
export function requireRoot(): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI === 'true') {
    throw new Error('integration tests need root (network namespaces, TUN devices) and CI=true: run them as root, e.g. sudo -E npx vitest run test/integration');
  }
  return false;
}
