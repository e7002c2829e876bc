import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // tfjs keeps one global engine per process: isolate each file in its own fork
    pool: 'forks',
  },
});
