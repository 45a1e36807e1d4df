// The AdamW update as one kernel per parameter, in place: reads p, g, m, v once and writes p, m, v
// (the plain tfjs version runs ~12 ops, each a full pass with a new tensor). Called by lib/train/adamw.ts
// outside the tfjs engine (see fusedKernel): the update is not differentiated and replaces data in place.
// A weight that products read in bf16 has a kept bfloat16 copy (bf16.ts): the kernel writes the new
// values there too, rounded as a conversion would, so the next step's products need no conversion pass.
import * as tf from '@tensorflow/tfjs';
import { FUSED } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { BF16_BITS, bf16CopyOf } from './bf16.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

export const ADAMW_SOURCE = `${BF16_BITS}
extern "C" __global__ void adamw(float* p, unsigned short* p16, const float* g, float* m, float* v, float lr, float beta1, float beta2, float eps,
    float decay, float correction1, float correction2, float grad_scale, int n) {
  each_4(n, [&](long long i, int count) {
    float pv[4], gv[4], mv[4], vv[4];
    load_n(p, nullptr, i, count, pv);
    load_n(g, nullptr, i, count, gv);
    load_n(m, nullptr, i, count, mv);
    load_n(v, nullptr, i, count, vv);
    for (int e = 0; e < count; e++) {
      float gi = gv[e] * grad_scale;
      mv[e] = beta1 * mv[e] + (1.0f - beta1) * gi;
      vv[e] = beta2 * vv[e] + (1.0f - beta2) * gi * gi;
      pv[e] = pv[e] * decay - lr * (mv[e] / correction1) / (sqrtf(vv[e] / correction2) + eps);
    }
    store_n(m, nullptr, i, count, mv);
    store_n(v, nullptr, i, count, vv);
    store_n(p, p16, i, count, pv);
  });
}
`;

/** inputs {param, grad, m, v}; attrs {lr, beta1, beta2, eps, decay (= 1 − lr·wd), correction1, correction2, gradScale}. */
const adamw: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { param, grad, m, v } = inputs as Record<string, tf.TensorInfo>;
  const a = attrs as Record<string, number>;
  const cuda = backend as CudaBackend;
  const n = tf.util.sizeFromShape(param!.shape);
  const p16 = cuda.hasBf16(param!) ? bf16CopyOf(cuda, param!) : 0n; // (0n when products no longer run in bf16)
  if (p16 === 0n) cuda.written(param!); // a kept copy of the old weights would be stale
  cuda.launchElementwise(ADAMW_SOURCE, 'adamw', Math.ceil(n / 4), [
    cuda.pointer(param!), p16, cuda.pointer(grad!), cuda.pointer(m!), cuda.pointer(v!),
    ...[a.lr, a.beta1, a.beta2, a.eps, a.decay, a.correction1, a.correction2, a.gradScale].map((f) => ({ f32: f! })), { i32: n },
  ]);
  return [];
};

/** This family's tfjs kernels by name. */
export const ADAMW_KERNELS: [string, tf.KernelFunc][] = [[FUSED.adamw, adamw]];
