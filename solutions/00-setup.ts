// Solutions 00: numerically stable softmax and log-sum-exp with tfjs ops.
import * as tf from '@tensorflow/tfjs';

/** log(sum(exp(x))) along `axis`, without overflow for large x; the axis is removed from the shape. */
export function logSumExp(x: tf.Tensor, axis = -1): tf.Tensor {
  return tf.tidy(() => {
    // exp(x - m) <= 1, so the sum cannot overflow; adding m back restores the true value.
    const m = tf.max(x, axis, true);
    return tf.add(tf.squeeze(m, [axis < 0 ? x.rank + axis : axis]), tf.log(tf.sum(tf.exp(tf.sub(x, m)), axis)));
  });
}

/** softmax(x) along `axis`: exp(x) / sum(exp(x)), without overflow for large x; same shape as x. */
export function softmax(x: tf.Tensor, axis = -1): tf.Tensor {
  return tf.tidy(() => {
    const e = tf.exp(tf.sub(x, tf.max(x, axis, true)));
    return tf.div(e, tf.sum(e, axis, true));
  });
}

/** log(softmax(x)) along `axis`, computed as x - logSumExp(x) so it never takes log(0). */
export function logSoftmax(x: tf.Tensor, axis = -1): tf.Tensor {
  return tf.tidy(() => tf.sub(x, tf.expandDims(logSumExp(x, axis), axis)));
}
