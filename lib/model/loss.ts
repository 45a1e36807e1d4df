// Next-token cross-entropy: the language-modelling loss, per token and averaged with optional weights
// (SFT sets weight 0 on prompt tokens; padding gets 0 too).
import * as tf from '@tensorflow/tfjs';
import { FUSED, hasFused, runFused } from './fused.js';
import { linear } from './linear.js';

/** −log p(target) per position: logits [B, T, V], targets [B, T] int32 -> [B, T]. */
export function tokenCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const V = logits.shape[2];
    const logProbs = tf.logSoftmax(logits, -1); // [B, T, V]
    const picked = tf.sum(tf.mul(logProbs, tf.oneHot(targets, V)), -1); // [B, T]
    return tf.neg(picked) as tf.Tensor2D;
  });
}

/**
 * Cross-entropy of the LM head's logits h·Wᵀ for h [B, T, D], W [V, D], targets [B, T] -> [B, T].
 * With the fused kernel the logits never leave it: it keeps only their gradient for the backward pass
 * (and pads the vocabulary for its products itself: lib/backend/cuda/kernels/head-loss.ts).
 * Elsewhere: the plain logits and tokenCrossEntropy.
 */
export function headCrossEntropy(h: tf.Tensor3D, head: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    if (!hasFused(FUSED.headCrossEntropy)) return tokenCrossEntropy(linear(h, head) as tf.Tensor3D, targets);
    const [B, T, D] = h.shape;
    const inputs = { h: tf.reshape(h, [B * T, D]), weight: head, targets: tf.reshape(targets, [B * T]) };
    return tf.reshape(runFused(FUSED.headCrossEntropy, inputs), [B, T]) as tf.Tensor2D;
  });
}

/** Mean of per-token losses [B, T], weighted by `weights` [B, T] when given (Σ w·loss / Σ w). */
export function meanLoss(perToken: tf.Tensor2D, weights?: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    if (!weights) return tf.mean(perToken) as tf.Scalar;
    return tf.div(tf.sum(tf.mul(perToken, weights)), tf.maximum(tf.sum(weights), 1e-9)) as tf.Scalar;
  });
}
