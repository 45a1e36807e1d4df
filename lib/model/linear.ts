// A linear layer without bias, with the weight stored as PyTorch / Hugging Face store it: [out, in].
// Every projection of the model is a `Linear`: attention and the MLP only call apply(), so other
// kinds — a LoRA adapter around a frozen weight, a quantized weight — slot in without touching them.
import * as tf from '@tensorflow/tfjs';
import { FUSED, hasFused } from './fused.js';

/** x's width (its last dimension), checked against a weight [out, in]. */
function inputWidth(x: tf.Tensor, weight: tf.Tensor): number {
  const inDim = x.shape[x.shape.length - 1]!;
  if (weight.shape[1] !== inDim) throw new Error(`linear: input width ${inDim} does not match weight [${weight.shape}]`);
  return inDim;
}

/** y = x Wᵀ for x [..., in] and W [out, in]: y [..., out]. */
export function linear(x: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  const inDim = inputWidth(x, weight);
  const outDim = weight.shape[0]!;
  const flat = tf.reshape(x, [-1, inDim]); // [N, in]
  const y = tf.matMul(flat, weight, false, true); // [N, out]
  return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
}

/** A projection x [..., in] → [..., out]: what attention and the MLP need from a weight. */
export interface Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  apply(x: tf.Tensor): tf.Tensor;
}

/** The plain kind: one weight [out, in]. */
export class Dense implements Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(readonly weight: tf.Tensor) {
    if (weight.rank !== 2) throw new Error(`Dense: weight of shape [${weight.shape}], expected [out, in]`);
    [this.outFeatures, this.inFeatures] = weight.shape as [number, number];
  }

  apply(x: tf.Tensor): tf.Tensor {
    return hasFused(FUSED.projections) ? project(x, [this.weight])[0]! : linear(x, this.weight);
  }
}

/**
 * Several projections of one input (q, k, v; gate, up): each one's apply(x), or, where the backend
 * fuses plain weights (cuda), one op whose backward sums x's gradient inside its products instead of
 * adding one [..., in] tensor per extra projection.
 */
export function projectAll(x: tf.Tensor, projections: Linear[]): tf.Tensor[] {
  if (!hasFused(FUSED.projections) || !projections.every((p) => p instanceof Dense)) return projections.map((p) => p.apply(x));
  return project(x, projections.map((p) => (p as Dense).weight));
}

/** The fused projections op (cuda: in bf16 it keeps outputs and x's gradient in bfloat16, as autocast does): y_i [..., out_i]. */
function project(x: tf.Tensor, weights: tf.Tensor[]): tf.Tensor[] {
  const inDim = weights.map((w) => inputWidth(x, w))[0]!;
  const ys = tf.engine().runKernel(FUSED.projections, [tf.reshape(x, [-1, inDim]), ...weights] as unknown as tf.NamedTensorMap) as tf.Tensor[]; // [N, out_i]
  return ys.map((y, i) => tf.reshape(y, [...x.shape.slice(0, -1), weights[i]!.shape[0]!]));
}
