// Solutions 05: the SwiGLU MLP and mixture-of-experts routing.
import * as tf from '@tensorflow/tfjs';

/** SiLU (swish): x · σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** SwiGLU MLP with weights stored [out, in]. */
export function swiglu(x: tf.Tensor2D, gate: tf.Tensor2D, up: tf.Tensor2D, down: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const hidden = tf.mul(silu(tf.matMul(x, gate, false, true)), tf.matMul(x, up, false, true));
    return tf.matMul(hidden, down, false, true);
  });
}

/** A 0/1 mask of each token's k most probable experts. */
export function topKMask(probs: tf.Tensor2D, k: number): tf.Tensor2D {
  // oneHot gives int32; the mask is used in float arithmetic, so cast it.
  return tf.tidy(() => tf.cast(tf.sum(tf.oneHot(tf.topk(probs, k).indices, probs.shape[1]), 1), 'float32') as tf.Tensor2D);
}

/** alpha · E · Σ_e f_e · P_e. */
export function loadBalancingLoss(probs: tf.Tensor2D, mask: tf.Tensor2D, alpha: number): tf.Scalar {
  return tf.tidy(() => {
    const share = tf.div(tf.sum(mask, 0), tf.sum(mask));
    return tf.mul(tf.sum(tf.mul(share, tf.mean(probs, 0))), alpha * probs.shape[1]) as tf.Scalar;
  });
}
