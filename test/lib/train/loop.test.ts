import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { readDocuments } from '../../../lib/data/documents.js';
import { prepareShards } from '../../../lib/data/prepare.js';
import { presetConfig } from '../../../lib/model/config.js';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';
import { train } from '../../../lib/train/loop.js';
import type { TrainOptions, TrainSettings } from '../../../lib/train/options.js';

await initBackend('wasm', { quiet: true });

const dir = mkdtempSync(join(tmpdir(), 'loop-'));
const data = join(dir, 'data');
const tokenizer = loadTokenizer('datasets/tokenizer');

beforeAll(async () => {
  const lines: string[] = [];
  await readDocuments('datasets/corpus/zh-classical.jsonl.gz', (text) => { if (lines.length < 300) lines.push(JSON.stringify({ text })); });
  writeFileSync(join(dir, 'poems.jsonl'), `${lines.join('\n')}\n`);
  await prepareShards({ files: [join(dir, 'poems.jsonl')], tokenizer, out: data, valFraction: 0.05 });
});

const options = (out: string, overrides: Partial<TrainOptions> = {}): TrainSettings => ({
  data, out, config: presetConfig('nano', { vocabSize: tokenizer.vocabSize, hidden: 32, ffn: 64, layers: 2, heads: 2, kvHeads: 1, maxSeq: 32 }),
  steps: 40, batch: 2, seq: 16, accum: 1, lr: 1e-2, minLr: 1e-3, warmup: 5, weightDecay: 0.1, clip: 1, seed: 3,
  evalEvery: 10, evalBatches: 2, saveEvery: 0, resume: false, saveDtype: 'float32', ...overrides,
});

const withoutTiming = (line: string) => ({ ...JSON.parse(line), tok_s: 0 });

describe('train', () => {
  it('resumes exactly: 40 steps straight equal 20, a stop with checkpoint, and 20 more after --resume', async () => {
    const straight = await train(options(join(dir, 'straight')));
    const resumedDir = join(dir, 'resumed');
    // shouldStop is what SIGINT sets in the CLI: here it asks to stop after step 20.
    let steps = 0;
    const first = await train(options(resumedDir), { shouldStop: () => ++steps >= 20 });
    expect(first.stopped).toBe(true);
    expect(existsSync(join(resumedDir, 'step-000020', 'optimizer.safetensors'))).toBe(true);
    expect(existsSync(join(resumedDir, 'final'))).toBe(false);
    // The data order's seed comes from the checkpoint, whatever --seed says now.
    const second = await train(options(resumedDir, { resume: true, seed: 99 }));
    expect(second.startStep).toBe(20);
    const losses = (r: typeof straight) => r.history.map((m) => [m.step, m.loss, m.grad_norm, m.val_loss]);
    expect([...losses(first), ...losses(second)]).toEqual(losses(straight)); // bit for bit
    expect(straight.history[39]!.val_loss!).toBeLessThan(straight.initialValLoss! - 1);
    // metrics.jsonl: one line per step, the same numbers whether or not the run was interrupted.
    const metrics = (d: string) => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map(withoutTiming);
    expect(metrics(resumedDir)).toEqual(metrics(join(dir, 'straight')));
    expect(readFileSync(join(resumedDir, 'final', 'model.safetensors'))).toEqual(readFileSync(join(dir, 'straight', 'final', 'model.safetensors')));
    [straight, first, second].forEach((r) => r.model.dispose());
  });

  it('accumulates gradients: 2 micro-batches of 1 give the step of one batch of 2', async () => {
    const whole = await train(options(join(dir, 'whole'), { steps: 5, evalEvery: 0 }));
    const accumulated = await train(options(join(dir, 'accum'), { steps: 5, evalEvery: 0, batch: 1, accum: 2 }));
    whole.history.forEach((m, i) => expect(accumulated.history[i]!.loss).toBeCloseTo(m.loss, 4));
    const weights = (d: string) => new Float32Array(readFileSync(join(d, 'final', 'model.safetensors')).buffer.slice(-4096));
    weights(join(dir, 'accum')).forEach((w, i) => expect(w).toBeCloseTo(weights(join(dir, 'whole'))[i]!, 4));
    [whole, accumulated].forEach((r) => r.model.dispose());
  });

  it('validates on smaller batches when the val split is short, and turns validation off when it is too short', async () => {
    const small = join(dir, 'small');
    writeFileSync(join(dir, 'small.jsonl'), Array.from({ length: 20 }, (_, i) => JSON.stringify({ text: `第${i}首：白日依山尽，黄河入海流。欲穷千里目，更上一层楼。` })).join('\n'));
    await prepareShards({ files: [join(dir, 'small.jsonl')], tokenizer, out: small, valFraction: 0.05 }); // one val document, ~20 tokens
    const short = await train(options(join(dir, 'short-val'), { data: small, steps: 2, evalEvery: 1, batch: 4, seq: 8 }));
    expect(short.history.map((m) => m.val_loss)).toEqual([expect.any(Number), expect.any(Number)]);
    const none = await train(options(join(dir, 'no-val'), { data: small, steps: 1, evalEvery: 1, batch: 2, seq: 30 }));
    expect(none.history[0]!.val_loss).toBeUndefined();
    [short, none].forEach((r) => r.model.dispose());
  });

  it('refuses to start over an existing run, to resume nothing, or a model whose vocabulary differs from the data', async () => {
    await expect(train(options(join(dir, 'straight')))).rejects.toThrow(`${join(dir, 'straight')}: already holds a run (metrics.jsonl); pass --resume`);
    await expect(train(options(join(dir, 'missing'), { resume: true }))).rejects.toThrow(`--resume: ${join(dir, 'missing')} does not exist, expected a run directory to resume from`);
    mkdirSync(join(dir, 'empty'));
    await expect(train(options(join(dir, 'empty'), { resume: true }))).rejects.toThrow(`--resume: ${join(dir, 'empty')} has no step-NNNNNN checkpoint, expected a run directory to resume from`);
    await expect(train(options(join(dir, 'vocab'), { config: presetConfig('nano', { vocabSize: 100 }) }))).rejects.toThrow(`${data}: vocabulary of 6400 tokens, but the model's vocabSize is 100`);
    // A run that cannot start leaves no run directory behind.
    expect(existsSync(join(dir, 'missing'))).toBe(false);
    expect(existsSync(join(dir, 'vocab'))).toBe(false);
  });
});
