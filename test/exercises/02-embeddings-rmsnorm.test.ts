// Exercise 02 tests: run against your work with `npm run check -- 02`.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { embedByMatmul, layerNorm, rmsNorm } from '@exercise/02-embeddings-rmsnorm.js';
import { initBackend } from '../../lib/backend/init.js';

await initBackend('cpu', { quiet: true });

const close = (a: tf.Tensor, b: number[], tol = 1e-5) => Array.from(a.dataSync()).forEach((v, i) => expect(Math.abs(v - b[i]!), `value ${i}: ${v} vs ${b[i]}`).toBeLessThan(tol));

describe('embedByMatmul', () => {
  it('picks rows of the table, like tf.gather', () => {
    const table = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const ids = tf.tensor1d([2, 0, 2], 'int32');
    const out = embedByMatmul(table, ids);
    expect(out.shape).toEqual([3, 2]);
    close(out, [5, 6, 1, 2, 5, 6]);
    close(out, Array.from(tf.gather(table, ids).dataSync()));
  });
});

describe('rmsNorm', () => {
  it('matches a hand computation', () => {
    // x = [3, 4]: mean square 12.5, rms 3.5355…; weight [1, 2].
    const r = Math.sqrt(12.5 + 1e-6);
    close(rmsNorm(tf.tensor2d([[3, 4]]), tf.tensor1d([1, 2])), [3 / r, (2 * 4) / r]);
  });
  it('gives unit root-mean-square rows with weight 1, whatever the scale', () => {
    const x = tf.tensor2d([[100, -200, 300, 50], [1, 2, -3, 0]]);
    const y = rmsNorm(x, tf.ones([4]) as tf.Tensor1D).arraySync() as number[][];
    for (const row of y) expect(Math.sqrt(row.reduce((s, v) => s + v * v, 0) / 4)).toBeCloseTo(1, 4);
  });
});

describe('layerNorm', () => {
  it('centres and scales rows, then applies gamma and beta', () => {
    // x = [1, 2, 3]: mean 2, variance 2/3.
    const s = Math.sqrt(2 / 3 + 1e-6);
    close(layerNorm(tf.tensor2d([[1, 2, 3]]), tf.tensor1d([1, 1, 2]), tf.tensor1d([0, 1, 0])), [-1 / s, 1, 2 / s]);
  });
});
