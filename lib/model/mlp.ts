// The SwiGLU feed-forward block (Shazeer 2020), Llama's MLP: a SiLU-gated linear unit.
import * as tf from '@tensorflow/tfjs';
import { FUSED, hasFused, runFused } from './fused.js';
import { type Linear, projectAll } from './linear.js';

/** The three projections of a SwiGLU MLP (out ← in). */
export interface MlpWeights {
  gate: Linear; // F ← D
  up: Linear; // F ← D
  down: Linear; // D ← F
}

/** down(silu(gate(x)) * up(x)) for x [..., D]. */
export function swiglu(x: tf.Tensor, w: MlpWeights): tf.Tensor {
  return tf.tidy(() => {
    const [gate, up] = projectAll(x, [w.gate, w.up]) as [tf.Tensor, tf.Tensor]; // [..., F] each
    const gated = hasFused(FUSED.swiglu) ? runFused(FUSED.swiglu, { gate, up }) : tf.mul(tf.mul(gate, tf.sigmoid(gate)), up); // silu(g)·u, silu(g) = g·σ(g)
    return w.down.apply(gated); // [..., D]
  });
}
