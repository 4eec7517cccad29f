import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // clipanion's `main` has no extension: Node picks its CommonJS build, Vite its .mjs one, whose directory
    // import (`../platform`) Node's ESM loader refuses. Load what Node loads in production.
    alias: [{ find: /^clipanion$/, replacement: require.resolve('clipanion') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start their own slapd and databases; two workers fit the 2-core machines.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
