// RMSNorm (Zhang & Sennrich 2019), Llama's normalization: scale each vector to unit root-mean-square,
// then by a learned per-channel weight. Unlike LayerNorm it neither centres nor adds a bias.
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
