// DPO: the objective against TRL's formulas in PyTorch (test/fixtures/dpo/make_fixtures.py), the
// preference formats, the pair layout of DPO batches, and `tinyllm dpo` end to end with exact resume.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { DpoLoader, prepareDpo, readPreference } from '../../../lib/data/preferences.js';
import { SftDataset } from '../../../lib/data/sft.js';
import { loadModelDir } from '../../../lib/io/model-dir.js';
import { readSafetensors } from '../../../lib/io/safetensors.js';
import { dpoObjective } from '../../../lib/train/objectives/dpo.js';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';

await initBackend('cpu', { quiet: true });

const dir = mkdtempSync(join(tmpdir(), 'dpo-'));
const fixture = readSafetensors('test/fixtures/dpo/expected.safetensors').tensors;
const value = (name: string) => fixture.get(name)!.values[0]!;

describe('the DPO objective against TRL\'s formulas in PyTorch', () => {
  const tensors = () => {
    const [inputs, targets, weights, reference] = ['inputs', 'targets', 'weights', 'reference'].map((n) => fixture.get(n)!);
    return {
      inputs: tf.tensor2d(Array.from(inputs!.values), inputs!.shape as [number, number], 'int32'),
      targets: tf.tensor2d(Array.from(targets!.values), targets!.shape as [number, number], 'int32'),
      weights: tf.tensor2d(weights!.values, weights!.shape as [number, number]),
      reference: tf.tensor1d(reference!.values),
    };
  };
  const METRICS = ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected'];

  it.each([
    ['sigmoid', { beta: 0.1, loss: 'sigmoid' as const, sftWeight: 0.5 }],
    ['ipo', { beta: 0.5, loss: 'ipo' as const, sftWeight: 0 }],
  ])('%s: the loss and the four reward metrics (1e-4)', (name, options) => {
    const { model } = loadModelDir('test/fixtures/llama/hf');
    const reported = new Map<string, number>();
    const loss = tf.tidy(() => dpoObjective(options).loss(model, tensors(), (n, v) => reported.set(n, v.dataSync()[0]!)).dataSync()[0]!);
    expect(loss).toBeCloseTo(value(`${name}.loss`), 4);
    expect([...reported.keys()]).toEqual(METRICS);
    for (const metric of METRICS) expect(reported.get(metric), metric).toBeCloseTo(value(`${name}.${metric}`), 4);
    model.dispose();
  });

  it('sigmoid: the gradient of every parameter (1e-4 relative to its scale)', () => {
    const { model } = loadModelDir('test/fixtures/llama/hf');
    const names = new Map([...model.params].map(([n, v]) => [v.name, n]));
    const { grads } = tf.variableGrads(() => dpoObjective({ beta: 0.1, loss: 'sigmoid', sftWeight: 0.5 }).loss(model, tensors()), model.variables());
    expect(Object.keys(grads)).toHaveLength(model.params.size);
    for (const [variable, g] of Object.entries(grads)) {
      const name = names.get(variable)!;
      const expected = fixture.get(`grad.${name}`)!.values;
      const ours = g.dataSync();
      const scale = Math.max(...Array.from(expected, Math.abs));
      const worst = Math.max(...Array.from(ours, (v, i) => Math.abs(v - expected[i]!)));
      expect(worst / scale, name).toBeLessThan(1e-4);
    }
    model.dispose();
  });
});

describe('preference records', () => {
  const pair = { prompt: [{ role: 'user', content: 'Q' }], chosen: 'A', rejected: 'B' };
  it('reads minimind\'s, TRL\'s string and TRL\'s conversational formats into the same pair', () => {
    expect(readPreference({ chosen: [{ role: 'user', content: 'Q' }, { role: 'assistant', content: 'A' }], rejected: [{ role: 'user', content: 'Q' }, { role: 'assistant', content: 'B' }] })).toEqual(pair);
    expect(readPreference({ prompt: 'Q', chosen: 'A', rejected: 'B' })).toEqual(pair);
    expect(readPreference({ prompt: [{ role: 'user', content: 'Q' }], chosen: [{ role: 'assistant', content: 'A' }], rejected: [{ role: 'assistant', content: 'B' }] })).toEqual(pair);
  });

  it.each([
    [{ chosen: [{ role: 'user', content: 'Q' }, { role: 'assistant', content: 'A' }], rejected: [{ role: 'user', content: 'P' }, { role: 'assistant', content: 'B' }] }, "rejected: its prompt differs from chosen's, expected the same messages before the answer"],
    [{ prompt: 'Q', chosen: '', rejected: 'B' }, 'chosen: empty, expected some text'],
    [{ prompt: 'Q', chosen: 'A' }, 'record: fields ["prompt","chosen"], expected "chosen" and "rejected" (and "prompt")'],
    [{ prompt: [{ role: 'user', content: 'Q' }], chosen: [{ role: 'user', content: 'A' }], rejected: [{ role: 'assistant', content: 'B' }] }, 'chosen: expected one assistant message'],
  ])('rejects %j', (record, message) => {
    expect(() => readPreference(record)).toThrow(message);
  });
});

describe('DPO data and batches', () => {
  it('stores each pair as chosen then rejected, skips pairs that do not fit, and batches chosen rows before rejected', async () => {
    const tokenizer = loadTokenizer('datasets/tokenizer');
    const lines = [
      ...Array.from({ length: 6 }, (_, i) => JSON.stringify({ prompt: `问题${i}？`, chosen: `答案${i}。`, rejected: `错${'误'.repeat(i)}` })),
      JSON.stringify({ prompt: '长', chosen: '好', rejected: '很长'.repeat(200) }),
      '{"prompt": "x"}',
    ];
    writeFileSync(join(dir, 'pairs.jsonl'), `${lines.join('\n')}\n`);
    const out = join(dir, 'data');
    const index = await prepareDpo({ files: [join(dir, 'pairs.jsonl')], tokenizer, out, seq: 64, valFraction: 0 });
    expect(index.report).toEqual({ records: 7, kept: 6, cut: 0, tooLong: 1, malformed: 1 });
    const data = new SftDataset(out, 'train', 'tinyllm-dpo-1');
    expect(data.length).toBe(12);
    const reference = Float32Array.from({ length: 12 }, (_, i) => -i);
    const loader = new DpoLoader(data, 2, 64, reference, 0, false);
    const batch = loader.next();
    expect(loader.batch).toBe(4);
    expect(Array.from(batch.reference!)).toEqual([-0, -2, -1, -3]); // chosen of pairs 0 and 1, then their rejected
    const T = batch.inputs.length / 4;
    const decodeRow = (r: number) => tokenizer.decode(Array.from(batch.targets.subarray(r * T, (r + 1) * T)).filter((_, t) => batch.weights![r * T + t] === 1));
    expect([0, 1, 2, 3].map(decodeRow)).toEqual(['答案0。<|im_end|>', '答案1。<|im_end|>', '错<|im_end|>', '错误<|im_end|>']);
    expect(() => new SftDataset(out, 'train')).toThrow("format: 'tinyllm-dpo-1', expected 'tinyllm-sft-1' (made by `tinyllm data prepare --format sft`)");
    data.close();
  });
});

describe('tinyllm dpo', () => {
  it('aligns the shipped chat model on a slice of datasets/dpo, logs TRL\'s metrics, and resumes exactly', { timeout: 300_000 }, () => {
    const cli = (...argv: string[]) => spawnSync(process.execPath, ['lib/cli/tinyllm.js', ...argv], { encoding: 'utf8' });
    const slice = (split: string, n: number) => {
      const file = join(dir, `${split}.jsonl`);
      writeFileSync(file, `${gunzipSync(readFileSync(`datasets/dpo/${split}.jsonl.gz`)).toString('utf8').split('\n').slice(0, n).join('\n')}\n`);
      return file;
    };
    // 32 training pairs, validated on themselves: enough to see the mechanics learn in seconds.
    // (Held-out figures on the whole set are in datasets/README.md.)
    const data = join(dir, 'slice');
    const pairs = slice('train', 32);
    const prepared = cli('data', 'prepare', '--format', 'dpo', '--tokenizer', 'datasets/tokenizer', '--input', pairs, '--val', pairs, '--out', data, '--seq', '256');
    expect(prepared.status, prepared.stderr).toBe(0);
    expect(prepared.stdout).toMatch(/^wrote .*: train 32 pairs, .* val 32 pairs, .*; of 64 read: 64 kept, 0 skipped as longer than --seq 256, 0 malformed/m);
    const out = join(dir, 'run');
    const args = ['dpo', '--model', 'datasets/models/chat', '--data', data, '--out', out, '--steps', '16', '--batch', '8', '--lr', '3e-4', '--warmup', '2', '--eval-every', '8', '--eval-batches', '4', '--save-every', '8', '--backend', 'wasm'];
    const run = cli(...args);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^dpo: new run in .*; ≤ [\d.]+k tokens\/step, 16 steps$/m);
    expect(run.stderr).toMatch(/^reference log-probabilities \(train\) 64\/64 examples · .* · done in /m); // the pass before step 1 shows progress
    const metrics = () => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => ({ ...JSON.parse(l), tok_s: 0 }));
    const whole = metrics();
    const last = whole[15];
    for (const name of ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected']) {
      expect(typeof last[name], name).toBe('number');
      expect(typeof last[`val_${name}`], `val_${name}`).toBe('number');
    }
    // Starting at ln 2 (policy = reference), the loss falls as the chosen answers' rewards pass the rejected ones'.
    expect(last['val_rewards/accuracies']).toBeGreaterThan(0.9);
    expect(last['val_rewards/margins']).toBeGreaterThan(1);
    expect(last.val_loss).toBeLessThan(0.3);
    const weights = readFileSync(join(out, 'final', 'model.safetensors'));
    rmSync(join(out, 'step-000016'), { recursive: true });
    rmSync(join(out, 'final'), { recursive: true });
    const resumed = cli(...args, '--resume');
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(metrics()).toEqual(whole);
    expect(readFileSync(join(out, 'final', 'model.safetensors'))).toEqual(weights);
  });
});
