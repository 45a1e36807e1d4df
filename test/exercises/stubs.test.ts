// Every exercise test must fail against the stubs (a test that passes on a stub checks nothing), and
// each failure must tell the learner what to implement.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exerciseTests, runExerciseTests } from './run.js';

interface JsonReport {
  numTotalTests: number;
  numFailedTests: number;
  testResults: { assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

describe('exercise stubs', () => {
  const files = exerciseTests();
  it('exist', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const file of files) {
    it(`fail every test in ${file} with a TODO message`, () => {
      const out = join(mkdtempSync(join(tmpdir(), 'stubs-')), 'report.json');
      runExerciseTests([file], 'exercises', ['--reporter=json', `--outputFile=${out}`], true);
      const report = JSON.parse(readFileSync(out, 'utf8')) as JsonReport;
      expect(report.numTotalTests).toBeGreaterThan(0);
      for (const test of report.testResults.flatMap((r) => r.assertionResults)) {
        expect(test.status, `'${test.fullName}' passed against the stub`).toBe('failed');
        expect(test.failureMessages.join('\n'), `'${test.fullName}' fails without a TODO hint`).toMatch(/TODO: /);
      }
    });
  }
});
