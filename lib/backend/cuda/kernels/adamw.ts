// The AdamW update as one kernel per parameter, in place: reads p, g, m, v once and writes p, m, v
// (the plain tfjs version runs ~12 ops, each a full pass with a new tensor). Called by lib/train/adamw.ts
// outside the tfjs engine (see fusedKernel): the update is not differentiated and replaces data in place.
import * as tf from '@tensorflow/tfjs';
import { FUSED } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

export const ADAMW_SOURCE = `extern "C" __global__ void adamw(float* p, const float* g, float* m, float* v, float lr, float beta1, float beta2, float eps,
    float decay, float correction1, float correction2, float grad_scale, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    float gi = g[i] * grad_scale;
    float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - lr * (mi / correction1) / (sqrtf(vi / correction2) + eps);
  }
}
`;

/** inputs {param, grad, m, v}; attrs {lr, beta1, beta2, eps, decay (= 1 − lr·wd), correction1, correction2, gradScale}. */
const adamw: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { param, grad, m, v } = inputs as Record<string, tf.TensorInfo>;
  const a = attrs as Record<string, number>;
  const cuda = backend as CudaBackend;
  const n = tf.util.sizeFromShape(param!.shape);
  cuda.launchElementwise(ADAMW_SOURCE, 'adamw', n, [
    cuda.pointer(param!), cuda.pointer(grad!), cuda.pointer(m!), cuda.pointer(v!),
    ...[a.lr, a.beta1, a.beta2, a.eps, a.decay, a.correction1, a.correction2, a.gradScale].map((f) => ({ f32: f! })), { i32: n },
  ]);
  cuda.written(param!); // a kept bf16 copy of the old weights is stale now
  return [];
};

/** This family's tfjs kernels by name. */
export const ADAMW_KERNELS: [string, tf.KernelFunc][] = [[FUSED.adamw, adamw]];
