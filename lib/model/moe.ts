// Mixture of experts in place of the MLP (as in minimind and DeepSeek-MoE): a router scores E experts
// per token, the token goes through its top-k experts weighted by their scores, plus shared experts
// every token uses. A load-balancing loss keeps the router from sending everything to a few experts.
//
// This version runs every expert on every token and zeroes the unselected ones: simple, exact and
// differentiable, at E times the MLP cost. A fast backend dispatches only selected tokens instead.
import * as tf from '@tensorflow/tfjs';
import type { MoeConfig } from './config.js';
import type { Linear } from './linear.js';
import { swiglu, type MlpWeights } from './mlp.js';
import './topk-gradient.js';

/** Router and experts of one MoE layer. */
export interface MoeWeights {
  router: Linear; // E ← D
  experts: MlpWeights[];
  shared: MlpWeights[];
}

/** The layer's output and what routing did. */
export interface MoeResult {
  y: tf.Tensor; // [..., D]
  /** alpha · E · Σ_e (fraction of routed slots that went to e) · (mean router probability of e). */
  auxLoss: tf.Scalar;
  /** Tokens routed to each expert (counts over top-k slots), for plots. */
  load: tf.Tensor1D;
}

/** Apply the MoE layer to x [..., D]. */
export function moe(x: tf.Tensor, w: MoeWeights, config: MoeConfig): MoeResult {
  return tf.tidy(() => {
    const D = x.shape[x.shape.length - 1]!;
    const flat = tf.reshape(x, [-1, D]); // [N, D]
    const probs = tf.softmax(w.router.apply(flat), -1); // [N, E]
    const E = config.experts;
    // Which experts each token uses: a 0/1 mask from the top-k indices (no gradient through the choice).
    const { indices } = tf.topk(probs, config.topK); // [N, k]
    const chosen = tf.sum(tf.oneHot(indices, E), 1); // [N, E]
    let gates = tf.mul(probs, chosen); // [N, E]: zero except the top k
    if (config.normTopK) gates = tf.div(gates, tf.add(tf.sum(gates, -1, true), 1e-20));
    let y = tf.zerosLike(flat);
    w.experts.forEach((expert, e) => {
      const gate = tf.slice(gates, [0, e], [-1, 1]); // [N, 1]
      y = tf.add(y, tf.mul(gate, swiglu(flat, expert)));
    });
    for (const expert of w.shared) y = tf.add(y, swiglu(flat, expert));
    // Switch-Transformer-style balance: f_e (share of slots, no gradient) times P_e (mean probability).
    const load = tf.sum(chosen, 0) as tf.Tensor1D; // [E]
    const share = tf.div(load, flat.shape[0]! * config.topK);
    const meanProb = tf.mean(probs, 0);
    const auxLoss = tf.mul(tf.sum(tf.mul(share, meanProb)), config.auxLossAlpha * E) as tf.Scalar;
    return { y: tf.reshape(y, x.shape), auxLoss, load };
  });
}
