// Solutions 02: embeddings as a lookup, RMSNorm and LayerNorm with tfjs ops.
import * as tf from '@tensorflow/tfjs';

/** Embed ids [N] (int32) with table [V, D] as a matrix product: oneHot(ids, V) · table -> [N, D]. */
export function embedByMatmul(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(tf.oneHot(ids, table.shape[0]), table));
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) * weight. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor1D, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), weight));
}

/** LayerNorm over the last axis: (x − mean) / sqrt(var + eps) * gamma + beta. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
  });
}
