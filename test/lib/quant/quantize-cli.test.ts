// `tinyllm quantize` end to end on the shipped chat model: the quantized directories are smaller, and
// generate and eval run them directly with perplexity close to the float model's; bad input is one
// line and leaves nothing behind.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const MODEL = 'datasets/models/chat';
const tinyllm = (...argv: string[]) => spawnSync(process.execPath, ['lib/cli/tinyllm.js', ...argv], { encoding: 'utf8' });
const dir = mkdtempSync(join(tmpdir(), 'quantize-cli-'));
const size = (d: string) => statSync(join(d, 'model.safetensors')).size;
const bpb = (model: string) => {
  const run = tinyllm('eval', '--model', model, '--task', 'ppl', '--data', 'test/fixtures/eval/ppl.jsonl', '--json', '--backend', 'wasm');
  expect(run.status, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { bpb: number }).bpb;
};

describe('tinyllm quantize', () => {
  beforeAll(() => {
    for (const type of ['q8_0', 'q4_0']) {
      const run = tinyllm('quantize', '--model', MODEL, '--type', type, '--out', join(dir, type), '--backend', 'wasm');
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toContain(`quantized 42 projections to ${type} (in bfloat16: embeddings, LM head, norms)`);
    }
  });

  it('writes smaller directories that generate runs, with perplexity near the float model\'s', () => {
    expect(size(join(dir, 'q8_0'))).toBeLessThan(0.85 * size(MODEL));
    expect(size(join(dir, 'q4_0'))).toBeLessThan(0.75 * size(MODEL));
    const run = tinyllm('generate', '--model', join(dir, 'q8_0'), '--prompt', '你好', '--temperature', '0', '--max-tokens', '16', '--json', '--backend', 'wasm');
    expect(run.status, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { ids: number[] }).ids.length).toBeGreaterThan(0);
    const [f32, q8, q4] = [MODEL, join(dir, 'q8_0'), join(dir, 'q4_0')].map(bpb);
    expect(Math.abs(q8! - f32!) / f32!).toBeLessThan(0.01); // 8 bits: within 1% in bits per byte
    expect(Math.abs(q4! - f32!) / f32!).toBeLessThan(0.1); // 4 bits: within 10%
    expect(q4).toBeGreaterThan(q8!); // and coarser blocks cost more than fine ones
  });

  it.each([
    ['an already-quantized model', () => ['--model', join(dir, 'q8_0'), '--type', 'q4_0', '--out', join(dir, 'again')], () => `${join(dir, 'q8_0')}: already quantized (q8_0); quantize the float model it was made from`],
    ['an unknown type', () => ['--model', MODEL, '--type', 'q5_k', '--out', join(dir, 'x')], () => "--type: 'q5_k', expected one of q8_0, q4_0"],
    ['an --out that holds files', () => ['--model', MODEL, '--type', 'q8_0', '--out', join(dir, 'q4_0')], () => `--out: ${join(dir, 'q4_0')} already exists and is not an empty folder; choose another --out or delete it`],
    ['an --out under a file', () => ['--model', MODEL, '--type', 'q8_0', '--out', join(dir, 'a-file', 'x')], () => `--out: ${join(dir, 'a-file', 'x')}: ${join(dir, 'a-file')} is not an existing folder`],
  ])('%s fails with one line and writes nothing', (_, args, message) => {
    writeFileSync(join(dir, 'a-file'), '');
    const before = readdirSync(dir).sort();
    const run = tinyllm('quantize', ...args(), '--backend', 'wasm');
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr.trim()).toBe(`tinyllm: ${message()}`);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('export refuses a quantized model, saying what to do instead', () => {
    const run = tinyllm('export', '--model', join(dir, 'q4_0'), '--out', join(dir, 'm.gguf'));
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(`tinyllm: export: ${join(dir, 'q4_0')} is quantized (q4_0); export the float model it was made from, with --type q4_0 for the same blocks`);
  });
});
