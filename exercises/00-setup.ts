// Exercises 00: numerically stable softmax and log-sum-exp with tfjs ops.
// Implement each function, then run `npm run check -- 00`. Notebook 00 explains why the naive
// formulas overflow; the tests feed inputs like [1000, 1001, 1002].
import * as tf from '@tensorflow/tfjs';

/** log(sum(exp(x))) along `axis`, without overflow for large x; the axis is removed from the shape. */
export function logSumExp(x: tf.Tensor, axis = -1): tf.Tensor {
  throw new Error('TODO: logSumExp — take m = max(x, axis), return m + log(sum(exp(x - m), axis)) (keep shapes aligned with keepDims)');
}

/** softmax(x) along `axis`: exp(x) / sum(exp(x)), without overflow for large x; same shape as x. */
export function softmax(x: tf.Tensor, axis = -1): tf.Tensor {
  throw new Error('TODO: softmax — subtract max(x, axis, keepDims) before exp, then divide by the sum along axis');
}

/** log(softmax(x)) along `axis`, computed as x - logSumExp(x) so it never takes log(0). */
export function logSoftmax(x: tf.Tensor, axis = -1): tf.Tensor {
  throw new Error('TODO: logSoftmax — return x minus logSumExp(x, axis) with the reduced axis kept (expandDims)');
}
