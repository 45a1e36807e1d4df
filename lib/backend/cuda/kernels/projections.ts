// The projections of one input as one op (see projectAll in lib/model/linear.ts): q, k and v of
// attention, gate and up of the MLP, y_i = x·W_iᵀ; or a single one (o, down). As separate products, x's
// gradient would arrive in pieces that tfjs sums with an Add per extra projection — each a pass over
// three [N, in] tensors. Here the backward's products for dx add into one tensor (cuBLAS's beta = 1)
// instead. In bf16 the outputs and dx are kept as bfloat16 alone, autocast's types, and every kernel
// that reads them load()s bfloat16.
import * as tf from '@tensorflow/tfjs';
import { FUSED, gradOf } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { filled } from './layout.js';
import { allocateProductInput } from './bf16.js';
import { product } from './matmul.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** inputs [x [N, in], W_0 [out_0, in], W_1, …] → [y_0 [N, out_0], y_1, …]. */
const projections: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const [x, ...weights] = inputs as unknown as tf.TensorInfo[];
  const cuda = backend as CudaBackend;
  const [N, D] = x!.shape as [number, number];
  for (const w of [x!, ...weights]) if (w.dtype !== 'float32') throw new Error(`cuda backend: TinyProjections on ${w.dtype}, expected float32`);
  for (const w of weights) if (w.shape[1] !== D) throw new Error(`cuda backend: TinyProjections: input width ${D} does not match weight [${w.shape}]`);
  return weights.map((w) => {
    // Read by products and by kernels that load() bfloat16 (RoPE, SwiGLU, the residual's RMSNorm, Add): in bf16, kept as bfloat16 only.
    const y = allocateProductInput(cuda, [N, w.shape[0]!]);
    if (N * w.shape[0]! > 0) product(cuda, x!, w, y, { m: N, n: w.shape[0]!, k: D, transposeA: false, transposeB: true });
    return y;
  });
};

/**
 * inputs [x, W_0 … W_{n−1}, dy_0 … dy_{n−1}] → dx = Σ dy_i·W_i. (Each dW_i = dy_iᵀ·x is a plain product
 * that tfjs runs only for a weight that trains: not for LoRA's frozen base.)
 */
const projectionsGrad: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const [x, ...rest] = inputs as unknown as tf.TensorInfo[];
  const cuda = backend as CudaBackend;
  const [N, D] = x!.shape as [number, number];
  const count = rest.length / 2;
  const [weights, dys] = [rest.slice(0, count), rest.slice(count)];
  // A projection with nothing to sum (no rows, no outputs, no inputs) runs no product.
  const live = weights.map((w) => N * D * w.shape[0]! > 0);
  if (!live.some(Boolean)) return filled(cuda, [N, D], 'float32', 0);
  // dx is read by the gradient kernels before (RMSNorm's, attention's, SwiGLU's), which load() bfloat16:
  // in bf16 kept so, as autocast's input gradients are, and summed over the projections in bfloat16.
  const dx = allocateProductInput(cuda, [N, D]);
  const first = live.indexOf(true);
  weights.forEach((w, i) => {
    if (live[i]) product(cuda, dys[i]!, w, dx, { m: N, n: D, k: w.shape[0]!, transposeA: false, transposeB: false, accumulate: i > first });
  });
  return dx;
};

/** This family's tfjs kernels by name. */
export const PROJECTION_KERNELS: [string, tf.KernelFunc][] = [[FUSED.projections, projections], [gradOf(FUSED.projections), projectionsGrad]];
