// Exercises 02: embeddings as a lookup, RMSNorm and LayerNorm with tfjs ops. Run `npm run check -- 02`.
import * as tf from '@tensorflow/tfjs';

/** Embed ids [N] (int32) with table [V, D] as a matrix product: oneHot(ids, V) · table -> [N, D]. */
export function embedByMatmul(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  throw new Error('TODO: embedByMatmul — tf.matMul(tf.oneHot(ids, V), table) where V = table.shape[0]');
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) * weight. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor1D, eps = 1e-6): tf.Tensor {
  throw new Error('TODO: rmsNorm — mean of x² over axis -1 (keepDims), add eps, rsqrt, multiply x and weight');
}

/** LayerNorm over the last axis: (x − mean) / sqrt(var + eps) * gamma + beta. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-6): tf.Tensor {
  throw new Error('TODO: layerNorm — tf.moments(x, -1, true) gives mean and variance; normalise, scale by gamma, add beta');
}
