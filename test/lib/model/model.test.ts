import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { generate, sampleToken } from '../../../lib/infer/sampling.js';
import { causalMask } from '../../../lib/model/attention.js';
import { countParameters, type ModelConfig, PRESETS, presetConfig, trainingFlopsPerToken } from '../../../lib/model/config.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { moe } from '../../../lib/model/moe.js';
import { applyRope, ropeTables } from '../../../lib/model/rope.js';
import { Rng } from '../../../lib/rng.js';
import { Dense } from '../../../lib/model/linear.js';

await initBackend('cpu', { quiet: true });

const small: ModelConfig = presetConfig('nano', { vocabSize: 50, hidden: 32, ffn: 48, layers: 2, heads: 4, kvHeads: 2, maxSeq: 32 });
const smallMoe: ModelConfig = { ...small, moe: { experts: 4, topK: 2, sharedExperts: 1, auxLossAlpha: 0.1, normTopK: true } };

function ids(values: number[][]): tf.Tensor2D {
  return tf.tensor2d(values, [values.length, values[0]!.length], 'int32');
}

describe('parameter counts', () => {
  it('training FLOPs per token count the LM head, as the PyTorch reference does (6 × all weights but the embedding + 12·L·T·D)', () => {
    const config = presetConfig('92m', { vocabSize: 64798 });
    const { hidden: D, layers: L, vocabSize: V } = config;
    // The reference (../shared/reference/torch_throughput.py): its parameters minus the embedding, untied head included.
    const reference = 6 * (countParameters(config).total - V * D) + 12 * L * 1024 * D;
    expect(trainingFlopsPerToken(config, 1024)).toBe(reference);
    expect(trainingFlopsPerToken({ ...config, tieEmbeddings: true }, 1024)).toBe(reference); // the head's product is done either way
    // A mixture of experts counts the experts a token is routed to, not all of them.
    const moe = smallMoe.moe!;
    const perExpert = 3 * smallMoe.hidden * smallMoe.ffn * smallMoe.layers;
    expect(trainingFlopsPerToken(smallMoe, 8)).toBe(trainingFlopsPerToken({ ...smallMoe, moe: { ...moe, topK: moe.experts } }, 8) - 6 * (moe.experts - moe.topK) * perExpert);
  });

  it.each([['dense GQA', small], ['MoE', smallMoe], ['tied', { ...small, tieEmbeddings: true }]])('countParameters agrees with a live %s model', (_, config) => {
    const model = LlamaModel.create(config as ModelConfig);
    expect(model.parameterCount).toBe(countParameters(config as ModelConfig).total);
    model.dispose();
  });

  it('matches the preset table: 92m at vocab 64,798 is 92,051,968 parameters', () => {
    // By hand: embedding + head 2·64798·512 = 66,353,152; per layer 4·512² + 3·512·1408 + 2·512 = 3,212,288.
    expect(countParameters(presetConfig('92m', { vocabSize: 64798 }))).toEqual({ embedding: 66_353_152, nonEmbedding: 8 * 3_212_288 + 512, total: 92_051_968 });
    expect(countParameters(presetConfig('nano')).total).toBeGreaterThan(1e6);
    expect(countParameters(presetConfig('nano')).total).toBeLessThan(3e6);
    expect(Object.keys(PRESETS)).toEqual(expect.arrayContaining(['nano', '16m', '42m', '92m', '210m', '440m', '1.5b', 'minimind-26m', 'minimind-108m']));
  });

  it('rejects impossible shapes, naming the field', () => {
    expect(() => presetConfig('nano', { heads: 3 })).toThrow('config: hidden 128 is not divisible by heads 3');
    expect(() => presetConfig('nano', { kvHeads: 3 })).toThrow('config: heads 4 is not divisible by kvHeads 3');
    expect(() => presetConfig('huge')).toThrow("--preset: unknown preset 'huge', expected one of nano, 16m");
  });
});

describe('LlamaModel', () => {
  it('initialises as specified: std 0.02, residual projections scaled, norms at 1, loss ≈ ln(V)', () => {
    const model = LlamaModel.create(presetConfig('nano', { vocabSize: 512 }), 3);
    const std = (name: string) => tf.tidy(() => Math.sqrt(tf.moments(model.params.get(name)!).variance.dataSync()[0]!));
    expect(std('model.embed_tokens.weight')).toBeCloseTo(0.02, 3);
    expect(std('model.layers.0.self_attn.q_proj.weight')).toBeCloseTo(0.02, 3);
    expect(std('model.layers.0.mlp.down_proj.weight')).toBeCloseTo(0.02 / Math.sqrt(8), 3);
    expect(Array.from(model.params.get('model.norm.weight')!.dataSync()).every((v) => v === 1)).toBe(true);
    // Logits have std ≈ 0.02·√D ≈ 0.23, so the expected loss is ln V + σ²/2 ≈ ln V + 0.03; 256 tokens
    // keep the sampling noise well under the tolerance.
    const rng = new Rng(9);
    const x = ids(Array.from({ length: 4 }, () => Array.from({ length: 65 }, () => rng.int(512))));
    const loss = tf.tidy(() => model.loss(x.slice([0, 0], [4, 64]) as tf.Tensor2D, x.slice([0, 1], [4, 64]) as tf.Tensor2D).dataSync()[0]!);
    expect(Math.abs(loss - Math.log(512))).toBeLessThan(0.1);
    model.dispose();
  });

  it('is seeded: the same seed gives the same weights, seed 0 included; another seed gives others', () => {
    const weights = (seed: number) => {
      const model = LlamaModel.create(small, seed);
      const values = [...model.params.values()].map((p) => Array.from(p.dataSync()));
      model.dispose();
      return values;
    };
    expect(weights(0)).toEqual(weights(0));
    expect(weights(0)[0]).not.toEqual(weights(1)[0]);
  });

  it('tokenLogProbs is the log-softmax of the logits at each target, and its mean is −loss', () => {
    const model = LlamaModel.create(small, 4);
    const rng = new Rng(5);
    const x = ids([Array.from({ length: 9 }, () => rng.int(50)), Array.from({ length: 9 }, () => rng.int(50))]);
    const [inputs, targets] = [x.slice([0, 0], [2, 8]) as tf.Tensor2D, x.slice([0, 1], [2, 8]) as tf.Tensor2D];
    const got = tf.tidy(() => model.tokenLogProbs(inputs, targets).arraySync() as number[][]);
    const logProbs = tf.tidy(() => tf.logSoftmax(model.forward(inputs).logits, -1).arraySync() as number[][][]);
    const t = targets.arraySync() as number[][];
    got.forEach((row, b) => row.forEach((v, i) => expect(v).toBeCloseTo(logProbs[b]![i]![t[b]![i]!]!, 5)));
    const loss = tf.tidy(() => model.loss(inputs, targets).dataSync()[0]!);
    expect(-got.flat().reduce((a, v) => a + v, 0) / 16).toBeCloseTo(loss, 5);
    model.dispose();
  });

  it('is causal: changing a later token leaves earlier logits unchanged', () => {
    const model = LlamaModel.create(small, 1);
    const [a, b] = tf.tidy(() => [model.forward(ids([[5, 6, 7, 8]])).logits.dataSync(), model.forward(ids([[5, 6, 7, 9]])).logits.dataSync()]);
    const V = small.vocabSize;
    expect(Array.from(a!.slice(0, 3 * V))).toEqual(Array.from(b!.slice(0, 3 * V)));
    expect(Array.from(a!.slice(3 * V))).not.toEqual(Array.from(b!.slice(3 * V)));
    model.dispose();
  });

  it.each([['dense', small], ['MoE', smallMoe]])('%s: decoding with the KV cache gives the logits of the full forward', (_, config) => {
    const model = LlamaModel.create(config as ModelConfig, 2);
    const tokens = [3, 14, 15, 9, 26, 5, 35, 8];
    const full = tf.tidy(() => model.forward(ids([tokens, [...tokens].reverse()])).logits.arraySync());
    const cache = model.newCache(2);
    const chunks = [[0, 5], [5, 6], [6, 8]]; // a 5-token prompt, then 1, then 2 tokens
    for (const [from, to] of chunks) {
      const step = tf.tidy(() => model.forward(ids([tokens.slice(from, to), [...tokens].reverse().slice(from, to)]), { cache }).logits.arraySync());
      for (let b = 0; b < 2; b++) for (let t = from; t < to; t++) {
        step[b]![t - from]!.forEach((v, i) => expect(Math.abs(v - full[b]![t]![i]!)).toBeLessThan(1e-5));
      }
    }
    expect(cache.length).toBe(8);
    cache.dispose();
    model.dispose();
  });

  it('leaks no tensors across repeated forward + backward', () => {
    const model = LlamaModel.create(smallMoe, 4);
    const x = ids([[1, 2, 3, 4], [4, 3, 2, 1]]);
    const y = ids([[2, 3, 4, 5], [3, 2, 1, 0]]);
    const w = tf.tensor2d([[1, 1, 0, 1], [0, 1, 1, 1]]);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => model.loss(x, y, w), model.variables());
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y, w]);
    model.dispose();
  });

  it('weights per-token losses: weight 0 tokens do not count', () => {
    const model = LlamaModel.create(small, 5);
    const x = ids([[1, 2, 3, 4]]);
    const y = ids([[2, 3, 4, 5]]);
    const [all, firstTwo, firstTwoOnly] = tf.tidy(() => [
      model.loss(x, y).dataSync()[0]!,
      model.loss(x, y, tf.tensor2d([[1, 1, 0, 0]])).dataSync()[0]!,
      model.loss(x.slice([0, 0], [1, 2]) as tf.Tensor2D, y.slice([0, 0], [1, 2]) as tf.Tensor2D).dataSync()[0]!,
    ]);
    expect(firstTwo).toBeCloseTo(firstTwoOnly, 5);
    expect(firstTwo).not.toBeCloseTo(all, 3);
    model.dispose();
  });
});

describe('pieces', () => {
  it('causalMask hides later keys', () => {
    expect(causalMask(3).arraySync()).toEqual([[0, -1e9, -1e9], [0, 0, -1e9], [0, 0, 0]]);
  });

  it('RoPE makes q·k depend only on the distance between positions', () => {
    const tables = ropeTables(8, 64, 10000);
    const q = tf.randomNormal([1, 1, 1, 8], 0, 1, 'float32', 1);
    const k = tf.randomNormal([1, 1, 1, 8], 0, 1, 'float32', 2);
    const dot = (pq: number, pk: number) => tf.tidy(() => tf.sum(tf.mul(applyRope(q, tables, pq), applyRope(k, tables, pk))).dataSync()[0]!);
    expect(dot(10, 7)).toBeCloseTo(dot(3, 0), 4);
    expect(dot(40, 37)).toBeCloseTo(dot(3, 0), 4);
    expect(dot(10, 7)).not.toBeCloseTo(dot(10, 2), 2);
  });

  it('MoE sends each token to its top-k experts and computes the balancing loss by hand', () => {
    const D = 4;
    const eye = (n: number) => new Dense(tf.eye(n));
    // Router rows pick coordinates, so expert scores are the token's first 3 coordinates.
    const router = new Dense(tf.tensor2d([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]));
    const expert = () => ({ gate: eye(D), up: eye(D), down: eye(D) });
    const x = tf.tensor2d([[5, 1, 0, 0], [0, 0, 5, 1]]);
    const { y, auxLoss, load } = moe(x, { router, experts: [expert(), expert(), expert()], shared: [] }, { experts: 3, topK: 1, sharedExperts: 0, auxLossAlpha: 0.5, normTopK: true });
    expect(Array.from(load.dataSync())).toEqual([1, 0, 1]);
    // normTopK with k = 1: each token's gate is 1, so y = swiglu(x) of the identity experts = silu(x)·x.
    const silu = (v: number) => v / (1 + Math.exp(-v));
    Array.from(y.dataSync()).forEach((v, i) => {
      const xi = [5, 1, 0, 0, 0, 0, 5, 1][i]!;
      expect(v).toBeCloseTo(silu(xi) * xi, 4);
    });
    const softmax = (s: number[]) => s.map((v) => Math.exp(v) / s.reduce((a, b) => a + Math.exp(b), 0));
    const p = [softmax([5, 1, 0]), softmax([0, 0, 5])];
    const meanP = [0, 1, 2].map((e) => (p[0]![e]! + p[1]![e]!) / 2);
    const expected = 0.5 * 3 * (0.5 * meanP[0]! + 0 * meanP[1]! + 0.5 * meanP[2]!);
    expect(auxLoss.dataSync()[0]).toBeCloseTo(expected, 5);
  });
});

describe('sampling', () => {
  it('greedy picks the argmax; top-k never picks outside the k best', () => {
    const logits = [0.1, 3, -1, 2.9, 0];
    expect(sampleToken(logits, { temperature: 0 }, new Rng(1))).toBe(1);
    const rng = new Rng(2);
    for (let i = 0; i < 200; i++) expect([1, 3]).toContain(sampleToken(logits, { temperature: 5, topK: 2 }, rng));
  });

  it('temperature 1 samples with the softmax probabilities', () => {
    const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];
    const rng = new Rng(3);
    const counts = [0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[sampleToken(logits, { temperature: 1 }, rng)]!++;
    [0.5, 0.3, 0.2].forEach((p, i) => expect(Math.abs(counts[i]! / 20000 - p)).toBeLessThan(0.015));
  });

  it('generate with the cache equals greedy decoding by full forward passes', () => {
    const model = LlamaModel.create(small, 6);
    const prompt = [1, 2, 3];
    const fast = generate(model, prompt, { maxNewTokens: 6, temperature: 0 });
    const slow: number[] = [];
    for (let i = 0; i < 6; i++) {
      const seq = [...prompt, ...slow];
      slow.push(tf.tidy(() => model.forward(ids([seq])).logits.slice([0, seq.length - 1, 0], [1, 1, -1]).argMax(-1).dataSync()[0]!));
    }
    expect(fast).toEqual(slow);
    expect(() => generate(model, prompt, { maxNewTokens: 40 })).toThrow('generate: 3 prompt + 40 new tokens exceed maxSeq 32');
    model.dispose();
  });
});
