// Run exercise tests in a child vitest against exercises/ (the learner's work) or solutions/.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

/** Exercise test files, e.g. ['test/exercises/00-setup.test.ts'], optionally only those for `number`. */
export function exerciseTests(number?: string): string[] {
  return readdirSync('test/exercises')
    .filter((f) => /^\d\d-.*\.test\.ts$/.test(f) && (number === undefined || f.startsWith(`${number}-`)))
    .sort()
    .map((f) => `test/exercises/${f}`);
}

/** Run vitest on `files` with '@exercise/*' pointing at `target`; extra args go to vitest. */
export function runExerciseTests(files: string[], target: 'exercises' | 'solutions', extra: string[] = [], quiet = false) {
  return spawnSync(
    process.execPath,
    ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/vitest.config.ts', ...extra, ...files],
    { env: { ...process.env, EXERCISES: target }, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' },
  );
}
