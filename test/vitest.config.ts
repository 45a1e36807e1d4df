// One vitest config for lib, exercise and notebook tests (the GPU suite has its own command).
// EXERCISES=exercises points '@exercise/*' at the learner's stubs; the default is solutions/.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));
const exercises = process.env.EXERCISES ?? 'solutions';
if (exercises !== 'solutions' && exercises !== 'exercises') {
  throw new Error(`EXERCISES=${exercises}: expected 'solutions' or 'exercises'`);
}

export default defineConfig({
  root,
  resolve: {
    alias: [{ find: /^@exercise\/(.*)\.js$/, replacement: `${root}${exercises}/$1.ts` }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/gpu/**', '**/node_modules/**'],
    globalSetup: ['test/temp-root.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
