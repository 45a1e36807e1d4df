// The preallocated KV cache: its two kernels on cpu and wasm against the plain tfjs composition
// (write = RoPE on the keys at their positions, then into their row and slot; attend = RoPE on the
// queries, gather the rows, scores, mask past each query's position, softmax, weighted values), and its
// one-line errors.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { BatchDecoder } from '../../../lib/infer/batch-decoder.js';
import { MASKED } from '../../../lib/model/attention.js';
import { presetConfig } from '../../../lib/model/config.js';
import { cachedAttention, KvCache, type KvPlacement } from '../../../lib/model/kv-cache.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { applyRope, ropeTables } from '../../../lib/model/rope.js';

const [R, K, C, Dh, H] = [3, 2, 10, 8, 4];
const randn = (shape: [number, number, number, number], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed) as tf.Tensor4D;
const swapHeads = (x: tf.Tensor) => tf.transpose(x, [0, 2, 1, 3]); // [B, T, n, Dh] <-> [B, n, T, Dh]

/** Keys or values [B, T, K, Dh] as the cache should hold them: [B, K, T, Dh], keys rotated at their positions. */
function stored(update: tf.Tensor, placement: KvPlacement, rope?: { cos: tf.Tensor2D; sin: tf.Tensor2D }): number[][][][] {
  return tf.tidy(() => (rope ? applyRope(swapHeads(update), rope, 0, placement.positions) : swapHeads(update)).arraySync() as number[][][][]);
}

/** The expected attention of q [B, T, H, Dh] over `keys`/`values` [R, K, C, Dh] in plain tfjs ops: [B, T, H, Dh]. */
function reference(q: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, placement: KvPlacement, rope: { cos: tf.Tensor2D; sin: tf.Tensor2D }): tf.Tensor {
  return tf.tidy(() => {
    const head = tf.tensor1d(Array.from({ length: H }, (_, h) => Math.floor(h / (H / K))), 'int32');
    const pick = (t: tf.Tensor) => tf.gather(tf.gather(t, placement.rows, 0), head, 1); // [B, H, C, Dh]
    const qh = applyRope(swapHeads(q), rope, 0, placement.positions); // [B, H, T, Dh]
    const scores = tf.mul(tf.matMul(qh, pick(keys), false, true), 1 / Math.sqrt(Dh)); // [B, H, T, C]
    const hidden = (placement.positions.arraySync() as number[][]).map((row) => row.map((p) => Array.from({ length: C }, (_, s) => (s > p ? MASKED : 0))));
    const weights = tf.softmax(tf.add(scores, tf.expandDims(tf.tensor3d(hidden), 1)), -1);
    return swapHeads(tf.matMul(weights, pick(values))); // [B, T, H, Dh]
  });
}

describe.each(['cpu', 'wasm'] as const)('KV cache kernels on %s', (backend) => {
  it('write puts each position in its row and slot in place, keys rotated; attend equals the plain composition', async () => {
    await initBackend(backend, { quiet: true });
    const rope = ropeTables(Dh, C, 10000);
    const cache = new KvCache({ layers: 1, rows: R, capacity: C, kvHeads: K, headDim: Dh });
    // Row 2 already holds 4 positions, row 0 none (a prompt beside a sequence being decoded).
    const first = cache.place([2], 4);
    expect(first.start).toBe(0);
    const [k0, v0] = [randn([1, 4, K, Dh], 4), randn([1, 4, K, Dh], 5)];
    cache.write(0, k0, v0, first, rope);
    cache.advance([2], 4);
    const T = 3;
    const placement = cache.place([2, 0], T);
    expect(placement.positions.arraySync()).toEqual([[4, 5, 6], [0, 1, 2]]);
    expect(placement.start).toBe(null);
    const [k, v] = [randn([2, T, K, Dh], 1), randn([2, T, K, Dh], 2)];
    const before = cache.keys[0]!;
    cache.write(0, k, v, placement, rope);
    expect(cache.keys[0]).toBe(before); // the same tensor, written in place
    const [keys, values] = [cache.keys[0]!.arraySync(), cache.values[0]!.arraySync()] as number[][][][][];
    for (const [update, where, rows] of [[k0, first, [2]], [k, placement, [2, 0]]] as const) {
      const [expectKeys, expectValues] = [stored(update, where, rope), stored(update === k0 ? v0 : v, where)];
      const positions = where.positions.arraySync() as number[][];
      rows.forEach((r, b) => {
        for (let kv = 0; kv < K; kv++) positions[b]!.forEach((p, t) => {
          keys[r]![kv]![p]!.forEach((x, d) => expect(x).toBeCloseTo(expectKeys[b]![kv]![t]![d]!, 5));
          expect(values[r]![kv]![p]).toEqual(expectValues[b]![kv]![t]);
        });
      });
    }
    expect(keys[1]!.flat(2).every((x) => x === 0)).toBe(true); // row 1 untouched
    const q = randn([2, T, H, Dh], 3);
    const out = cachedAttention(q, cache, 0, placement, rope);
    const expected = reference(q, cache.keys[0]!, cache.values[0]!, placement, rope);
    expect(tf.max(tf.abs(tf.sub(out, expected))).dataSync()[0]!).toBeLessThan(1e-5);
    tf.dispose([k0, v0, k, v, q, out, expected, first.rows, first.positions, placement.rows, placement.positions, rope.cos, rope.sin]);
    cache.dispose();
  });
});

describe('KV cache errors', () => {
  it('names the row, the capacity and the shape field', async () => {
    await initBackend('cpu', { quiet: true });
    expect(() => new KvCache({ layers: 1, rows: 0, capacity: 4, kvHeads: 1, headDim: 2 })).toThrow('KvCache: rows must be a positive integer, got 0');
    const cache = new KvCache({ layers: 1, rows: 2, capacity: 4, kvHeads: 1, headDim: 2 });
    cache.advance([1], 3);
    expect(() => cache.place([1], 2)).toThrow('KvCache: row 1 holds 3 positions; 2 more exceed its capacity of 4');
    expect(() => cache.place([2], 1)).toThrow("KvCache: row 2 is outside the cache's 2 rows");
    expect(() => cache.place([0, 0], 1)).toThrow('KvCache: cache rows [0,0] repeat');
    cache.dispose();
  });

  it('a batch decoder with every row running refuses another sequence', async () => {
    await initBackend('cpu', { quiet: true });
    const model = LlamaModel.create(presetConfig('nano', { vocabSize: 64, maxSeq: 32 }), 1);
    const batch = new BatchDecoder(model, 1);
    batch.add([1, 2, 3], { temperature: 0, maxNewTokens: 4 });
    expect(() => batch.add([4, 5], { temperature: 0, maxNewTokens: 4 })).toThrow('generate: all 1 rows of the batch are running');
    const short = new BatchDecoder(model, 1, 8);
    expect(() => short.add([1, 2, 3, 4, 5], { temperature: 0, maxNewTokens: 4 })).toThrow("generate: 5 prompt + 4 new tokens exceed the batch's 8 positions per sequence");
    short.dispose();
    batch.dispose();
    model.dispose();
  });
});
