// datasets/build-corpus.ts --large writes a corpus too big for git: it refuses an --out inside the
// repository, or none, before it downloads anything.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('build-corpus --large', () => {
  it.each([
    [['--out', 'datasets/large'], '--out datasets/large: inside the repository'],
    [['--out', '.'], '--out .: inside the repository'],
    [[], '--large needs --out <dir>, a folder outside the repository'],
  ])('%j fails: %s', (args, message) => {
    const sources = mkdtempSync(join(tmpdir(), 'corpus-sources-'));
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'datasets/build-corpus.ts', '--large', ...args, '--sources', sources], { encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(message);
    expect(readdirSync(sources)).toEqual([]); // nothing downloaded
  });
});
