// Rotary position embedding (Su et al. 2021), in Hugging Face Llama's "rotate half" layout: channel i
// and channel i + Dh/2 of each head form a pair rotated by angle position · θ^(-2i/Dh). Attention
// scores then depend only on the distance between positions.
import * as tf from '@tensorflow/tfjs';
import { FUSED, hasFused, runFused } from './fused.js';

/** cos and sin of every position's angles, [maxSeq, Dh], each half repeated as HF lays them out. */
export interface RopeTables {
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
}

/** Rotation frequencies θ^(-2i/Dh) for i = 0 … Dh/2 − 1. */
export function ropeFrequencies(headDim: number, theta: number): Float32Array {
  const freqs = new Float32Array(headDim / 2);
  // Computed in float64, then rounded, as PyTorch computes inv_freq in float32 from float64 powers.
  for (let i = 0; i < headDim / 2; i++) freqs[i] = 1 / theta ** ((2 * i) / headDim);
  return freqs;
}

/** Precompute the tables once per model; the caller disposes them. */
export function ropeTables(headDim: number, maxSeq: number, theta: number): RopeTables {
  const freqs = ropeFrequencies(headDim, theta);
  const cos = new Float32Array(maxSeq * headDim);
  const sin = new Float32Array(maxSeq * headDim);
  for (let p = 0; p < maxSeq; p++) {
    for (let i = 0; i < headDim / 2; i++) {
      const angle = Math.fround(p * freqs[i]!); // float32 angle, as HF's position · inv_freq
      for (const j of [i, i + headDim / 2]) {
        cos[p * headDim + j] = Math.cos(angle);
        sin[p * headDim + j] = Math.sin(angle);
      }
    }
  }
  return { cos: tf.tensor2d(cos, [maxSeq, headDim]), sin: tf.tensor2d(sin, [maxSeq, headDim]) };
}

/** [x1, x2] -> [-x2, x1] on the last axis (the two halves of each head). */
export function rotateHalf(x: tf.Tensor): tf.Tensor {
  const half = x.shape[x.shape.length - 1]! / 2;
  const [x1, x2] = tf.split(x, [half, half], -1);
  return tf.concat([tf.neg(x2!), x1!], -1);
}

/**
 * Rotate x [B, H, T, Dh] whose first position is `offset`; or, with `positions` [B, T] (int32), each
 * row at its own positions (batched decoding of prompts of different lengths).
 */
export function applyRope(x: tf.Tensor, tables: RopeTables, offset: number, positions?: tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => {
    const T = x.shape[2]!;
    const headDim = x.shape[3]!;
    if (positions) {
      const [cos, sin] = [tables.cos, tables.sin].map((t) => tf.expandDims(tf.gather(t, positions), 1)); // [B, 1, T, Dh], broadcast over H
      return tf.add(tf.mul(x, cos!), tf.mul(rotateHalf(x), sin!));
    }
    if (offset + T > tables.cos.shape[0]) throw new Error(`rope: positions up to ${offset + T} exceed the model's maxSeq ${tables.cos.shape[0]}`);
    if (hasFused(FUSED.rope)) return runFused(FUSED.rope, { x, cos: tables.cos, sin: tables.sin }, { offset, inverse: false });
    const cos = tf.slice(tables.cos, [offset, 0], [T, headDim]); // [T, Dh], broadcast over B and H
    const sin = tf.slice(tables.sin, [offset, 0], [T, headDim]);
    return tf.add(tf.mul(x, cos), tf.mul(rotateHalf(x), sin));
  });
}
