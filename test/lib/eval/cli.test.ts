// `tinyllm eval` end to end on the shipped chat model: the report, the JSON, the predictions file, and
// one-line errors for options that do not fit the task and for bad data.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MODEL = 'datasets/models/chat';
const evalRun = (...argv: string[]) => spawnSync(process.execPath, ['lib/cli/tinyllm.js', 'eval', '--model', MODEL, '--backend', 'wasm', ...argv], { encoding: 'utf8' });

describe('tinyllm eval', () => {
  it('mcq: per-subject and overall accuracy with intervals and chance, and a predictions file', () => {
    const predictions = join(mkdtempSync(join(tmpdir(), 'eval-')), 'p.jsonl');
    const run = evalRun('--task', 'mcq', '--data', 'test/fixtures/eval/ceval', '--predictions', predictions);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^中国诗词\s+10\s+\d+\s+\d+\.\d%\s+\[\d+\.\d%, \d+\.\d%\]$/m);
    expect(run.stdout).toMatch(/^overall\s+20\s/m);
    expect(run.stdout).toMatch(/chance 25\.0%: overall (above chance|below chance|not distinguishable from chance)/);
    const rows = readFileSync(predictions, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(20);
    expect(Object.keys(rows[0]!)).toEqual(['file', 'id', 'pred', 'answer', 'scores']);
    expect(rows[0]).toMatchObject({ file: 'test/fixtures/eval/ceval/val/arithmetic_val.csv', id: '0', answer: 'B' });
    expect(rows[0]!.scores).toHaveLength(4);
  });

  it('ppl --json: the totals of the transformers fixture', () => {
    const run = evalRun('--task', 'ppl', '--data', 'test/fixtures/eval/ppl.jsonl', '--json');
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { documents: number; tokens: number; bytes: number; bpb: number };
    const want = (JSON.parse(readFileSync('test/fixtures/eval/expected.json', 'utf8')) as { ppl: { W512_S512: { total: { tokens: number; bytes: number; bpb: number } } } }).ppl.W512_S512.total;
    expect([report.documents, report.tokens, report.bytes]).toEqual([3, want.tokens, want.bytes]);
    expect(report.bpb).toBeCloseTo(want.bpb, 4);
  });

  it('gen: answers each question greedily and scores it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eval-'));
    writeFileSync(join(dir, 'qa.jsonl'), `${JSON.stringify({ question: '你是谁？', answer: '我是 tiny-llm-ts 训练的一个小型中文语言模型' })}\nnot json\n`);
    const run = evalRun('--task', 'gen', '--data', join(dir, 'qa.jsonl'), '--max-tokens', '100', '--json');
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ n: 1, exact: 0, contains: 1, stopped: 1, skipped: 1 });
  });

  const badDir = mkdtempSync(join(tmpdir(), 'eval-bad-'));
  mkdirSync(join(badDir, 'val'));
  writeFileSync(join(badDir, 'val/x_val.csv'), 'id,question,A,B,C,answer\n0,q,a,b,c,A\n');
  const emptyDir = mkdtempSync(join(tmpdir(), 'eval-empty-'));
  it.each([
    [['--task', 'bleu', '--data', 'x'], "--task: 'bleu', expected one of ppl, mcq, gen"],
    [['--task', 'ppl', '--data', 'x', '--shots', '2'], '--shots: applies to --task mcq, not ppl'],
    [['--task', 'mcq', '--data', 'test/fixtures/eval/ceval', '--score', 'option', '--shots', '1'], '--shots: worked examples go with --score letter only (option scoring is zero-shot)'],
    [['--task', 'mcq', '--data', 'test/fixtures/eval/ceval', '--shots', '4'], 'test/fixtures/eval/ceval/val/arithmetic_val.csv: --shots 4, but the dev split has 3 answered rows for subject arithmetic'],
    [['--task', 'mcq', '--data', badDir], `${join(badDir, 'val/x_val.csv')}:1: header: missing column "D"`],
    [['--task', 'mcq', '--data', emptyDir], `${emptyDir}: no CSV files in test/; expected C-Eval`],
    [['--task', 'ppl', '--data', 'test/fixtures/eval/ppl.jsonl', '--stride', '600'], '--stride: 600, expected a whole number from 1 to the window (512)'],
  ])('%j fails with one line', (args, message) => {
    const run = evalRun(...args);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n').at(-1)).toContain(`tinyllm: ${message}`);
  });
});
