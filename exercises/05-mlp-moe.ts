// Exercises 05: the SwiGLU MLP and mixture-of-experts routing. Run `npm run check -- 05`.
import * as tf from '@tensorflow/tfjs';

/** SiLU (swish): x · σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  throw new Error('TODO: silu — tf.mul(x, tf.sigmoid(x))');
}

/** SwiGLU MLP with weights stored [out, in]: down(silu(x gateᵀ) ⊙ (x upᵀ)), x [N, D]. */
export function swiglu(x: tf.Tensor2D, gate: tf.Tensor2D, up: tf.Tensor2D, down: tf.Tensor2D): tf.Tensor2D {
  throw new Error('TODO: swiglu — tf.matMul(x, gate, false, true) etc.; multiply silu(gate part) by the up part, then project with down');
}

/** Router output: for each token (row of probs [N, E]) a 0/1 mask of its k most probable experts. */
export function topKMask(probs: tf.Tensor2D, k: number): tf.Tensor2D {
  throw new Error('TODO: topKMask — tf.topk(probs, k).indices, one-hot them over E and sum over the k axis');
}

/**
 * Load-balancing loss: alpha · E · Σ_e f_e · P_e, where f_e is the share of the N·k routing slots that went to
 * expert e (from the 0/1 mask) and P_e the mean router probability of e. It is alpha when routing is uniform.
 */
export function loadBalancingLoss(probs: tf.Tensor2D, mask: tf.Tensor2D, alpha: number): tf.Scalar {
  throw new Error('TODO: loadBalancingLoss — f = sum(mask, 0) / sum(mask); P = mean(probs, 0); alpha * E * sum(f * P)');
}
