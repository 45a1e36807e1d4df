// Quantized models on the CPU: the quantized Linear against x·Wᵀ with the weight lib/quant unpacks,
// a quantized model against a float model holding the unpacked weights, the model directory round
// trip, LoRA on a quantized base (gradients reach the adapter through the blocks), and the errors.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { loadModelDir, saveModelDir } from '../../../lib/io/model-dir.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LoraAdapter } from '../../../lib/model/lora.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { QuantizedLinear } from '../../../lib/model/quantized-linear.js';
import { quantizeModel } from '../../../lib/quant/quantize-model.js';
import { dequantize, quantize, QUANT_FORMATS, type QuantType } from '../../../lib/quant/types.js';
import { Rng } from '../../../lib/rng.js';

const TYPES: QuantType[] = ['q8_0', 'q4_0'];
// 16m's width (120: rows of 3.75 blocks, which the flattened layout allows) and nano's.
const config = presetConfig('nano', { vocabSize: 96, maxSeq: 32, hidden: 120, heads: 6, kvHeads: 3, ffn: 352 });

function randomValues(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 0.2);
}

/** A float model whose projections hold exactly what `quantized`'s blocks stand for. */
function unpackedTwin(model: LlamaModel, quantized: LlamaModel): LlamaModel {
  const tensors = new Map<string, tf.Tensor>(model.params);
  for (const [module, q] of quantized.quantized) tensors.set(`${module}.weight`, tf.tensor2d(dequantize(q.bytes(), q.format), [q.outFeatures, q.inFeatures]));
  return new LlamaModel(model.config, tensors);
}

const IDS = [[5, 17, 3, 88, 42, 9, 60, 1], [2, 2, 71, 30, 4, 95, 12, 7]];

describe('quantized models', () => {
  let ids: tf.Tensor2D;
  beforeAll(async () => {
    await initBackend('cpu', { quiet: true });
    ids = tf.tensor2d(IDS, [2, 8], 'int32');
  });

  it.each(TYPES)('%s Linear: x·Wᵀ with the unpacked weight, for rows that are not whole blocks, from the blocks (≤ 8 rows) and unpacked (more); x gets a gradient', (type) => {
    const [out, inDim] = [40, 120];
    const weight = randomValues(out * inDim, 1);
    const q = QuantizedLinear.fromWeight(type, tf.tensor2d(weight, [out, inDim]));
    expect(q.bytes()).toEqual(quantize(weight, QUANT_FORMATS[type])); // the blocks run along the flattened weight
    const unpacked = tf.tensor2d(dequantize(q.bytes(), QUANT_FORMATS[type]), [out, inDim]);
    expect(tf.sub(q.dequantized(), unpacked).abs().max().dataSync()[0]).toBe(0);
    for (const T of [1, 3, 5]) { // 2, 6 and 10 rows: the matvec kernel for the first two
      const x = tf.tensor3d(randomValues(2 * T * inDim, 2 + T), [2, T, inDim]);
      const want = tf.matMul(x.reshape([2 * T, inDim]), unpacked, false, true).reshape([2, T, out]);
      const y = q.apply(x);
      expect(y.shape).toEqual([2, T, out]);
      expect(Math.max(...(tf.sub(y, want).abs().dataSync() as Float32Array)), `${2 * T} rows`).toBeLessThan(1e-5);
      const dx = tf.grad((t: tf.Tensor) => q.apply(t).sum())(x); // Σ over y of x·Wᵀ: every row of dx is the column sums of W
      expect(Math.max(...(tf.sub(dx, tf.sum(unpacked, 0).reshape([1, 1, inDim]).tile([2, T, 1])).abs().dataSync() as Float32Array))).toBeLessThan(1e-5);
    }
  });

  it.each(TYPES)('%s model: the logits of a float model holding the unpacked weights; embeddings, head, norms untouched', (type) => {
    const model = LlamaModel.create(config, 7);
    const quantized = quantizeModel(model, type);
    expect(quantized.quantization).toBe(type);
    expect(quantized.quantized.size).toBe(7 * config.layers); // q, k, v, o, gate, up, down in every layer
    expect([...quantized.params.keys()]).toEqual(['model.embed_tokens.weight', ...Array.from({ length: config.layers }, (_, i) => [`model.layers.${i}.input_layernorm.weight`, `model.layers.${i}.post_attention_layernorm.weight`]).flat(), 'model.norm.weight', 'lm_head.weight']);
    expect(quantized.parameterCount).toBe(model.parameterCount);
    const twin = unpackedTwin(model, quantized);
    const [a, b] = [quantized, twin].map((m) => m.forward(ids).logits);
    expect(Math.max(...(tf.sub(a!, b!).abs().dataSync() as Float32Array))).toBeLessThan(1e-5);
    // …and close to the float model's: q8_0 within a few hundredths, q4_0 within a few tenths.
    const drift = Math.max(...(tf.sub(a!, model.forward(ids).logits).abs().dataSync() as Float32Array));
    expect(drift).toBeGreaterThan(0);
    expect(drift).toBeLessThan(type === 'q8_0' ? 0.02 : 0.2);
    [model, quantized, twin].forEach((m) => m.dispose());
  });

  it('a quantized model directory: config.json says so, the blocks are U8 tensors, and it loads back to the same logits', () => {
    const model = LlamaModel.create(config, 8);
    const quantized = quantizeModel(model, 'q4_0');
    const dir = mkdtempSync(join(tmpdir(), 'quant-dir-'));
    saveModelDir(quantized, dir);
    const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { quantization_config: Record<string, unknown> };
    expect(json.quantization_config).toMatchObject({ quant_method: 'tinyllm', type: 'q4_0', block_size: 32, block_bytes: 18 });
    const header = readFileSync(join(dir, 'model.safetensors'));
    const meta = JSON.parse(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString()) as Record<string, { dtype: string; shape: number[] }>;
    expect(meta['model.layers.0.mlp.down_proj.weight']).toMatchObject({ dtype: 'U8', shape: [120 * 352 / 32 * 18] });
    expect(meta['lm_head.weight']).toMatchObject({ dtype: 'F32', shape: [96, 120] });
    const loaded = loadModelDir(dir).model;
    expect(loaded.quantization).toBe('q4_0');
    for (const [module, q] of quantized.quantized) expect(loaded.quantized.get(module)!.bytes()).toEqual(q.bytes());
    expect(tf.sub(loaded.forward(ids).logits, quantized.forward(ids).logits).abs().max().dataSync()[0]).toBe(0);
    [model, quantized, loaded].forEach((m) => m.dispose());
  });

  it('LoRA on a quantized base (QLoRA): A and B get gradients through the blocks; merging refuses', () => {
    const model = LlamaModel.create(config, 9);
    const quantized = quantizeModel(model, 'q8_0');
    const adapter = LoraAdapter.create(quantized, { rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, 1);
    for (const [name, v] of adapter.params) if (name.endsWith('lora_B.weight')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 3));
    const targets = tf.tensor2d([[17, 3, 88, 42, 9, 60, 1, 5], [2, 71, 30, 4, 95, 12, 7, 2]], [2, 8], 'int32');
    const { grads } = tf.variableGrads(() => quantized.loss(ids, targets), [...quantized.trainableParams().values()]);
    expect(Object.keys(grads)).toHaveLength(2 * 2 * config.layers);
    for (const g of Object.values(grads)) expect(g.abs().max().dataSync()[0]).toBeGreaterThan(0);
    expect(() => adapter.merge()).toThrow('merge: model.layers.0.self_attn.q_proj: the base is not a plain weight, expected Dense projections');
    [model, quantized].forEach((m) => m.dispose());
  });

  it('refuses to quantize twice, an unknown type, and a model with an adapter attached', () => {
    const model = LlamaModel.create(config, 10);
    const quantized = quantizeModel(model, 'q8_0');
    expect(() => quantizeModel(quantized, 'q4_0', 'models/q8')).toThrow('models/q8: already quantized (q8_0); quantize the float model it was made from');
    expect(() => quantizeModel(model, 'q5_k' as QuantType)).toThrow("--type: 'q5_k', expected one of q8_0, q4_0");
    LoraAdapter.create(model, { rank: 2, alpha: 4, dropout: 0, targetModules: ['q_proj'] });
    expect(() => quantizeModel(model, 'q8_0', 'models/x')).toThrow('models/x: has a LoRA adapter attached; merge it first (tinyllm lora merge)');
    [model, quantized].forEach((m) => m.dispose());
  });
});
