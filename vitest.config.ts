import { defineConfig } from 'vitest/config';

// Unit tests run in parallel; integration tests build network
// namespaces, TUN devices and processes in the one kernel, so they run one
// file at a time and get longer timeouts.
export default defineConfig({
  test: {
    // Fails the run when any test leaves a namespace, device, socket or process behind.
    globalSetup: ['test/guard/leftovers.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/vectors/**/*.test.ts', 'test/fuzz/**/*.test.ts', 'test/sim/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        // The dgram transport again, with Node's synchronous send shortcut off so
        // every completion comes back through libuv's send queue rather than
        // process.nextTick: both paths must return every slot intact.
        test: {
          name: 'unit-async-udp',
          include: ['test/unit/transport/dgram-transport.test.ts'],
          execArgv: ['--test-udp-no-try-send'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // After the unit projects, not beside them: a busy fuzz test on the other core
          // would show up as latency and CPU in the integration tests that measure those.
          sequence: { groupOrder: 1 },
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
