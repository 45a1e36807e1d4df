// Next-token cross-entropy: the language-modelling loss, per token and averaged with optional weights
// (SFT sets weight 0 on prompt tokens; padding gets 0 too).
import * as tf from '@tensorflow/tfjs';
import { FUSED, hasFused, runFused } from './fused.js';

/**
 * −log p(target) per position: logits [B, T, V], targets [B, T] int32 -> [B, T]. With `consumeLogits`
 * a backend with the fused kernel may overwrite the logits with their gradient (saving a tensor the
 * size of the logits): pass it only when nothing reads the logits afterwards, as in training.
 */
export function tokenCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, consumeLogits = false): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    if (consumeLogits && hasFused(FUSED.crossEntropy)) {
      return tf.reshape(runFused(FUSED.crossEntropy, { logits: tf.reshape(logits, [B * T, V]), targets: tf.reshape(targets, [B * T]) }), [B, T]);
    }
    const logProbs = tf.logSoftmax(logits, -1); // [B, T, V]
    const picked = tf.sum(tf.mul(logProbs, tf.oneHot(targets, V)), -1); // [B, T]
    return tf.neg(picked) as tf.Tensor2D;
  });
}

/** Mean of per-token losses [B, T], weighted by `weights` [B, T] when given (Σ w·loss / Σ w). */
export function meanLoss(perToken: tf.Tensor2D, weights?: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    if (!weights) return tf.mean(perToken) as tf.Scalar;
    return tf.div(tf.sum(tf.mul(perToken, weights)), tf.maximum(tf.sum(weights), 1e-9)) as tf.Scalar;
  });
}
