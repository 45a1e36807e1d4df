// Exercise 04 tests: run against your work with `npm run check -- 04`.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { causalMask, repeatKv, scaledDotProductAttention } from '@exercise/04-attention.js';
import { initBackend } from '../../lib/backend/init.js';

await initBackend('cpu', { quiet: true });

describe('causalMask', () => {
  it('hides later keys', () => {
    expect(causalMask(3).arraySync()).toEqual([[0, -1e9, -1e9], [0, 0, -1e9], [0, 0, 0]]);
  });
});

describe('scaledDotProductAttention', () => {
  it('matches a hand computation', () => {
    // One query [1, 0] over keys [1, 0], [0, 1] with d = 2: scores 1/√2 and 0.
    const q = tf.tensor2d([[1, 0]]), k = tf.tensor2d([[1, 0], [0, 1]]), v = tf.tensor2d([[10, 0], [0, 10]]);
    const w = 1 / (1 + Math.exp(-1 / Math.SQRT2));
    const out = scaledDotProductAttention(q, k, v).dataSync();
    expect(out[0]).toBeCloseTo(10 * w, 4);
    expect(out[1]).toBeCloseTo(10 * (1 - w), 4);
  });
  it('with the causal mask, the first query sees only the first value', () => {
    const q = tf.randomNormal([1, 3, 4], 0, 1, 'float32', 1);
    const k = tf.randomNormal([1, 3, 4], 0, 1, 'float32', 2);
    const v = tf.tensor3d([[[1, 1, 1, 1], [5, 5, 5, 5], [9, 9, 9, 9]]]);
    const out = scaledDotProductAttention(q, k, v, causalMask(3)).arraySync() as number[][][];
    out[0]![0]!.forEach((x) => expect(x).toBeCloseTo(1, 5));
    expect(out[0]![2]![0]).toBeGreaterThan(1);
  });
});

describe('repeatKv', () => {
  it('repeats each head n times, in order', () => {
    const x = tf.tensor4d([1, 2], [1, 2, 1, 1]);
    const y = repeatKv(x, 3);
    expect(y.shape).toEqual([1, 6, 1, 1]);
    expect(Array.from(y.dataSync())).toEqual([1, 1, 1, 2, 2, 2]);
  });
});
