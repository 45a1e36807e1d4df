// The preallocated KV cache: its two kernels on cpu and wasm against the plain tfjs composition
// (write = setting the slots; attend = gather the rows, scores, mask past each query's position,
// softmax, weighted values), and its one-line errors.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { BatchDecoder } from '../../../lib/infer/batch-decoder.js';
import { MASKED } from '../../../lib/model/attention.js';
import { presetConfig } from '../../../lib/model/config.js';
import { cachedAttention, KvCache } from '../../../lib/model/kv-cache.js';
import { LlamaModel } from '../../../lib/model/model.js';

const [R, K, C, Dh, H] = [3, 2, 10, 8, 4];
const rows = [2, 0];
const T = 3;
const randn = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

/** The expected attention of q [B, H, T, Dh] over `keys`/`values` [R, K, C, Dh] in plain tfjs ops. */
function reference(q: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, positions: number[][]): tf.Tensor {
  return tf.tidy(() => {
    const head = tf.tensor1d(Array.from({ length: H }, (_, h) => Math.floor(h / (H / K))), 'int32');
    const pick = (t: tf.Tensor) => tf.gather(tf.gather(t, rows, 0), head, 1); // [B, H, C, Dh]
    const scores = tf.mul(tf.matMul(q, pick(keys), false, true), 1 / Math.sqrt(Dh)); // [B, H, T, C]
    const hidden = positions.map((row) => row.map((p) => Array.from({ length: C }, (_, s) => (s > p ? MASKED : 0))));
    const weights = tf.softmax(tf.add(scores, tf.expandDims(tf.tensor3d(hidden), 1)), -1);
    return tf.matMul(weights, pick(values)); // [B, H, T, Dh]
  });
}

describe.each(['cpu', 'wasm'] as const)('KV cache kernels on %s', (backend) => {
  it('write puts each position in its row and slot, in place; attend equals the plain composition', async () => {
    await initBackend(backend, { quiet: true });
    const cache = new KvCache({ layers: 1, rows: R, capacity: C, kvHeads: K, headDim: Dh });
    // Row 2 already holds 4 positions, row 0 none (a prompt beside a sequence being decoded).
    const first = cache.place([2], 4);
    expect(first.start).toBe(0);
    const [k0, v0] = [randn([1, K, 4, Dh], 4), randn([1, K, 4, Dh], 5)] as tf.Tensor4D[];
    cache.write(0, k0!, v0!, first);
    cache.advance([2], 4);
    tf.dispose([k0!, v0!, first.rows, first.positions]);
    const placement = cache.place(rows, T);
    expect(placement.positions.arraySync()).toEqual([[4, 5, 6], [0, 1, 2]]);
    expect(placement.start).toBe(null);
    const [k, v] = [randn([2, K, T, Dh], 1), randn([2, K, T, Dh], 2)] as tf.Tensor4D[];
    const before = cache.keys[0]!;
    cache.write(0, k!, v!, placement);
    expect(cache.keys[0]).toBe(before); // the same tensor, written in place
    const keys = cache.keys[0]!.arraySync() as number[][][][];
    const written = k!.arraySync() as number[][][][];
    for (let b = 0; b < 2; b++) for (let kv = 0; kv < K; kv++) for (let t = 0; t < T; t++) {
      expect(keys[rows[b]!]![kv]![placement.positions.arraySync()[b]![t]!]).toEqual(written[b]![kv]![t]);
    }
    expect(keys[1]!.flat(2).every((x) => x === 0)).toBe(true); // row 1 untouched
    const q = randn([2, H, T, Dh], 3) as tf.Tensor4D;
    const out = cachedAttention(q, cache, 0, placement);
    const expected = reference(q, cache.keys[0]!, cache.values[0]!, placement.positions.arraySync());
    const diff = tf.max(tf.abs(tf.sub(out, expected))).dataSync()[0]!;
    expect(diff).toBeLessThan(1e-5);
    tf.dispose([k!, v!, q, out, expected, placement.rows, placement.positions]);
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
