// Exercises 04: the pieces of causal attention with tfjs ops. Run `npm run check -- 04`.
import * as tf from '@tensorflow/tfjs';

/** Additive causal mask [T, T]: 0 where key j ≤ query i, −1e9 above the diagonal. */
export function causalMask(T: number): tf.Tensor2D {
  throw new Error('TODO: causalMask — compare tf.range columns with rows (tf.greater) and map true to −1e9, false to 0');
}

/** softmax(q kᵀ / √d + mask) v for q [..., T, d], k and v [..., S, d], mask broadcastable to [..., T, S]. */
export function scaledDotProductAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
  throw new Error('TODO: scaledDotProductAttention — tf.matMul(q, k, false, true), scale by 1/√d, add mask, tf.softmax over the last axis, matMul with v');
}

/** Grouped-query attention: repeat each of the K key/value heads n times: [B, K, S, d] -> [B, K·n, S, d]. */
export function repeatKv(x: tf.Tensor4D, n: number): tf.Tensor4D {
  throw new Error('TODO: repeatKv — head h of the result is head floor(h / n) of x (tf.gather along axis 1)');
}
