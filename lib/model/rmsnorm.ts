// RMSNorm (Zhang & Sennrich 2019), Llama's normalization: scale each vector to unit root-mean-square,
// then by a learned per-channel weight. Unlike LayerNorm it neither centres nor adds a bias. In the
// decoder each norm but the first follows a step of the residual stream (h + attention, h + MLP), so the
// two are one op where the backend fuses them: one pass instead of two, forward and backward.
import * as tf from '@tensorflow/tfjs';
import { FUSED, hasFused, runFused } from './fused.js';

/** x / sqrt(mean(x²) + eps) * weight over the last axis: x [..., D], weight [D]. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  if (hasFused(FUSED.rmsNorm)) return runFused(FUSED.rmsNorm, { x, weight }, { eps });
  return tf.tidy(() => {
    const meanSquare = tf.mean(tf.square(x), -1, true); // [..., 1]
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
  });
}

/** A step of the residual stream and the norm after it: [sum, normed] = [h + delta, rmsNorm(h + delta)]. */
export function addRmsNorm(h: tf.Tensor, delta: tf.Tensor, weight: tf.Tensor, eps: number): [tf.Tensor, tf.Tensor] {
  if (hasFused(FUSED.addRmsNorm)) return tf.engine().runKernel(FUSED.addRmsNorm, { h, delta, weight }, { eps }) as [tf.Tensor, tf.Tensor];
  const sum = tf.add(h, delta);
  return [sum, rmsNorm(sum, weight, eps)];
}
