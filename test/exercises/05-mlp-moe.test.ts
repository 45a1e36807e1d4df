// Exercise 05 tests: run against your work with `npm run check -- 05`.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { loadBalancingLoss, silu, swiglu, topKMask } from '@exercise/05-mlp-moe.js';
import { initBackend } from '../../lib/backend/init.js';
import { swiglu as libSwiglu } from '../../lib/model/mlp.js';
import { Dense } from '../../lib/model/linear.js';

await initBackend('cpu', { quiet: true });

describe('silu', () => {
  it('is x·σ(x)', () => {
    const y = silu(tf.tensor1d([-2, 0, 1, 5])).dataSync();
    [-2, 0, 1, 5].forEach((x, i) => expect(y[i]).toBeCloseTo(x / (1 + Math.exp(-x)), 5));
  });
});

describe('swiglu', () => {
  it('matches the library MLP', () => {
    const [x, gate, up, down] = ([[3, 4], [6, 4], [6, 4], [4, 6]] as [number, number][]).map((s, i) => tf.randomNormal(s, 0, 1, 'float32', i + 1) as tf.Tensor2D);
    const ours = swiglu(x!, gate!, up!, down!);
    expect(ours.shape).toEqual([3, 4]);
    const lib = libSwiglu(x!, { gate: new Dense(gate!), up: new Dense(up!), down: new Dense(down!) }).dataSync();
    Array.from(ours.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(lib[i]!, 4));
  });
});

describe('routing', () => {
  const probs = tf.tensor2d([[0.7, 0.2, 0.1, 0], [0.1, 0.1, 0.3, 0.5]]);
  it('topKMask marks the k most probable experts per token', () => {
    expect(topKMask(probs, 2).arraySync()).toEqual([[1, 1, 0, 0], [0, 0, 1, 1]]);
  });
  it('loadBalancingLoss is alpha for uniform routing and larger when skewed', () => {
    const uniform = tf.fill([4, 4], 0.25) as tf.Tensor2D;
    expect(loadBalancingLoss(uniform, tf.eye(4) as tf.Tensor2D, 0.1).dataSync()[0]).toBeCloseTo(0.1, 6);
    // By hand: f = [1/4, 1/4, 1/4, 1/4] from the mask above; P = [0.4, 0.15, 0.2, 0.25]; 0.1·4·Σ f·P = 0.1.
    expect(loadBalancingLoss(probs, topKMask(probs, 2), 0.1).dataSync()[0]).toBeCloseTo(0.1, 6);
    const skewed = tf.tensor2d([[0.9, 0.1, 0, 0], [0.8, 0.2, 0, 0]]);
    // Both tokens go to expert 0: f = [1, 0, 0, 0]; P = [0.85, 0.15, 0, 0]; 0.1·4·0.85 = 0.34.
    expect(loadBalancingLoss(skewed, tf.tensor2d([[1, 0, 0, 0], [1, 0, 0, 0]]), 0.1).dataSync()[0]).toBeCloseTo(0.4 * 0.85, 6);
  });
});
