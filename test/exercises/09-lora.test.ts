// Exercise 09 tests: run against your work with `npm run check -- 09`.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { loraForward, mergeLora, trainableParameters } from '@exercise/09-lora.js';
import { initBackend } from '../../lib/backend/init.js';
import { presetConfig, type ModelConfig } from '../../lib/model/config.js';
import { Dense } from '../../lib/model/linear.js';
import { LORA_TARGETS, LoraAdapter, LoraLinear } from '../../lib/model/lora.js';
import { LlamaModel } from '../../lib/model/model.js';
import { Rng } from '../../lib/rng.js';

await initBackend('cpu', { quiet: true });

const ALL = Object.values(LORA_TARGETS);

/** A rows × cols matrix of seeded values in [−1, 1). */
function random(rng: Rng, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => 2 * rng.next() - 1));
}

function expectClose(actual: number[][], expected: number[][], tolerance: number): void {
  expect(actual.map((r) => r.length)).toEqual(expected.map((r) => r.length));
  actual.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - expected[i]![j]!), `[${i}][${j}]: ${v} vs ${expected[i]![j]}`).toBeLessThan(tolerance)));
}

/** A 3×2 layer worked by hand: x·Wᵀ = [1, 2, 3]; x·Aᵀ = [3]; (x·Aᵀ)·Bᵀ = [3, 0, 6]; α/r = 2. */
const HAND = { x: [[1, 2]], w: [[1, 0], [0, 1], [1, 1]], a: [[1, 1]], b: [[1], [0], [2]], alpha: 2 };

describe('loraForward', () => {
  it('adds (α/r)·(x·Aᵀ)·Bᵀ to x·Wᵀ (a layer worked by hand)', () => {
    expect(loraForward(HAND.x, HAND.w, HAND.a, HAND.b, HAND.alpha)).toEqual([[7, 2, 15]]);
    // Rank 2 with the same α halves the scale: α/r = 1.
    expect(loraForward([[1, 2]], [[0, 0]], [[1, 0], [0, 1]], [[1, 1]], 2)).toEqual([[3]]);
  });
  it('is the frozen layer exactly while B = 0 (how an adapter starts)', () => {
    const rng = new Rng(1);
    const x = random(rng, 3, 4), w = random(rng, 5, 4), a = random(rng, 2, 4);
    const b = Array.from({ length: 5 }, () => [0, 0]);
    expect(loraForward(x, w, a, b, 16)).toEqual(x.map((row) => w.map((wr) => wr.reduce((s, v, k) => s + v * row[k]!, 0))));
  });
  it('agrees with LoraLinear from lib/model/lora.ts', () => {
    const rng = new Rng(2);
    const x = random(rng, 4, 6), w = random(rng, 5, 6), a = random(rng, 3, 6), b = random(rng, 5, 3);
    const mine = loraForward(x, w, a, b, 12);
    const expected = tf.tidy(() => {
      const layer = new LoraLinear(new Dense(tf.tensor2d(w)), tf.variable(tf.tensor2d(a)), tf.variable(tf.tensor2d(b)), 12 / 3, 0, { training: null }, 0);
      return layer.apply(tf.tensor2d(x)).arraySync() as number[][];
    });
    expectClose(mine, expected, 1e-5);
  });
});

describe('mergeLora', () => {
  it('folds (α/r)·B·A into W (the layer worked by hand)', () => {
    const merged = mergeLora(HAND.w, HAND.a, HAND.b, HAND.alpha);
    expect(merged).toEqual([[3, 2], [0, 1], [5, 5]]);
    expect(HAND.w).toEqual([[1, 0], [0, 1], [1, 1]]); // W itself is left alone
  });
  it('gives a plain layer whose x·W\'ᵀ is the adapted forward pass', () => {
    const rng = new Rng(3);
    const x = random(rng, 4, 7), w = random(rng, 3, 7), a = random(rng, 2, 7), b = random(rng, 3, 2);
    const merged = mergeLora(w, a, b, 5);
    const plain = x.map((row) => merged.map((wr) => wr.reduce((s, v, k) => s + v * row[k]!, 0)));
    expectClose(plain, loraForward(x, w, a, b, 5), 1e-12);
  });
  it('agrees with LoraAdapter.merge() on a small model', () => {
    const model = LlamaModel.create({ ...presetConfig('nano'), vocabSize: 64, hidden: 32, ffn: 48, layers: 2 }, 4);
    const adapter = LoraAdapter.create(model, { rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'down_proj'] }, 5);
    // B starts at 0, which would make any merge look right: give every B values first.
    let seed = 6;
    for (const [name, v] of adapter.params) if (name.endsWith('lora_B.weight')) v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', seed++));
    const names = ['model.layers.0.self_attn.q_proj', 'model.layers.1.mlp.down_proj'];
    const read = (name: string) => (model.params.get(name) ?? adapter.params.get(name))!.arraySync() as number[][];
    const mine = names.map((n) => mergeLora(read(`${n}.weight`), read(`${n}.lora_A.weight`), read(`${n}.lora_B.weight`), 8));
    adapter.merge();
    names.forEach((n, i) => expectClose(mine[i]!, read(`${n}.weight`), 1e-5));
    model.dispose();
  });
});

describe('trainableParameters', () => {
  const total = (params: Map<string, tf.Variable>) => [...params.values()].reduce((n, v) => n + v.size, 0);

  it('counts a small model by hand', () => {
    // D 16, F 48, 2 layers, 4 heads, 2 K/V heads (width 8), V 100. LoRA rank 2 on q [16, 16] and down [16, 48]:
    // 2·(16+16) + 2·(48+16) = 192 per layer. Full: 2·100·16 + 2·(16·16·2 + 16·8·2 + 3·16·48 + 2·16) + 16.
    const shape = { vocabSize: 100, hidden: 16, ffn: 48, layers: 2, heads: 4, kvHeads: 2, tieEmbeddings: false, moe: null };
    expect(trainableParameters(shape, 2, ['q_proj', 'down_proj'])).toEqual({ lora: 384, full: 9424 });
    expect(trainableParameters({ ...shape, tieEmbeddings: true }, 2, []).full).toBe(9424 - 1600);
  });
  it.each([
    ['nano', 8, ALL],
    ['16m', 8, ALL],
    ['16m', 4, ['q_proj', 'v_proj']],
  ] as const)('agrees with model.trainableParams() for %s at rank %i on %j', (preset, rank, targets) => {
    const config = presetConfig(preset);
    const counted = trainableParameters(config, rank, targets);
    const model = LlamaModel.create(config, 0);
    const full = total(model.trainableParams());
    LoraAdapter.create(model, { rank, alpha: 2 * rank, dropout: 0, targetModules: [...targets] }, 0);
    const lora = total(model.trainableParams());
    model.dispose();
    expect(counted).toEqual({ lora, full });
  });
  it('counts every expert (and the router, which LoRA leaves alone) in a mixture of experts', () => {
    const config: ModelConfig = {
      ...presetConfig('nano'), vocabSize: 50, hidden: 32, ffn: 40, layers: 2, heads: 4, kvHeads: 2,
      moe: { experts: 3, topK: 2, sharedExperts: 1, auxLossAlpha: 0.1, normTopK: true },
    };
    const counted = trainableParameters(config, 2, ALL);
    const model = LlamaModel.create(config, 0);
    const full = total(model.trainableParams());
    LoraAdapter.create(model, { rank: 2, alpha: 4, dropout: 0, targetModules: ALL }, 0);
    const lora = total(model.trainableParams());
    model.dispose();
    expect(counted).toEqual({ lora, full });
  });
});
