// Global-norm gradient clipping: if the gradient of all parameters together is longer than maxNorm,
// scale every gradient by the same factor. One bad batch then cannot throw the weights far away.
import * as tf from '@tensorflow/tfjs';
import { FUSED, hasFused, runFused } from '../model/fused.js';

/** ‖g‖ over all gradients together: sqrt(Σ g²) — one fused op over them all where the backend has it. */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    const squares = hasFused(FUSED.squaredNorm) ? runFused(FUSED.squaredNorm, Object.fromEntries(grads.map((g, i) => [`g${i}`, g]))) : tf.addN(grads.map((g) => tf.sum(tf.square(g))));
    return tf.sqrt(squares) as tf.Scalar;
  });
}

/**
 * Scale factor min(1, maxNorm / norm) that clips a gradient of length `norm`, as a tensor: computed on
 * the device, it goes to the optimizer without the host waiting to read the norm. A maxNorm of 0 (or
 * ∞) means no clipping: 1.
 */
export function clipScale(norm: tf.Scalar, maxNorm: number): tf.Scalar {
  if (!(maxNorm > 0 && maxNorm < Infinity)) return tf.scalar(1);
  return tf.tidy(() => tf.minimum(1, tf.div(maxNorm, norm))); // (norm 0: maxNorm / 0 = ∞, so 1)
}
