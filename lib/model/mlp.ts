// The SwiGLU feed-forward block (Shazeer 2020), Llama's MLP: a SiLU-gated linear unit.
import * as tf from '@tensorflow/tfjs';
import { FUSED, hasFused, runFused } from './fused.js';
import { linear } from './linear.js';

/** The three projections of a SwiGLU MLP, [out, in] each. */
export interface MlpWeights {
  gate: tf.Tensor; // [F, D]
  up: tf.Tensor; // [F, D]
  down: tf.Tensor; // [D, F]
}

/** down(silu(gate(x)) * up(x)) for x [..., D]. */
export function swiglu(x: tf.Tensor, w: MlpWeights): tf.Tensor {
  return tf.tidy(() => {
    const gate = linear(x, w.gate); // [..., F]
    const up = linear(x, w.up); // [..., F]
    const gated = hasFused(FUSED.swiglu) ? runFused(FUSED.swiglu, { gate, up }) : tf.mul(tf.mul(gate, tf.sigmoid(gate)), up); // silu(g)·u, silu(g) = g·σ(g)
    return linear(gated, w.down); // [..., D]
  });
}
