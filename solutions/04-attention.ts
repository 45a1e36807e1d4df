// Solutions 04: the pieces of causal attention with tfjs ops.
import * as tf from '@tensorflow/tfjs';

/** Additive causal mask [T, T]: 0 where key j ≤ query i, −1e9 above the diagonal. */
export function causalMask(T: number): tf.Tensor2D {
  return tf.tidy(() => {
    const rows = tf.reshape(tf.range(0, T, 1, 'int32'), [T, 1]);
    const cols = tf.reshape(tf.range(0, T, 1, 'int32'), [1, T]);
    return tf.where(tf.greater(cols, rows), tf.fill([T, T], -1e9), tf.zeros([T, T]));
  });
}

/** softmax(q kᵀ / √d + mask) v. */
export function scaledDotProductAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const d = q.shape[q.shape.length - 1]!;
    let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d));
    if (mask) scores = tf.add(scores, mask);
    return tf.matMul(tf.softmax(scores, -1), v);
  });
}

/** Repeat each key/value head n times along axis 1. */
export function repeatKv(x: tf.Tensor4D, n: number): tf.Tensor4D {
  return tf.tidy(() => {
    const heads = x.shape[1] * n;
    return tf.gather(x, tf.tensor1d(Array.from({ length: heads }, (_, h) => Math.floor(h / n)), 'int32'), 1) as tf.Tensor4D;
  });
}
