// The AdamW update of many parameters in one launch, in place: reads p, g, m, v once and writes p, m, v
// (the plain tfjs version runs ~12 ops per parameter, each a full pass with a new tensor). Called by
// lib/train/adamw.ts outside the tfjs engine (see fusedKernel): the update is not differentiated and
// replaces data in place.
//
// Up to 64 parameters travel in the kernel's parameters (a table of pointers, sizes and decay factors,
// < 4 KB), so a model's ~75 take two launches instead of one each — most of them are small, and a launch
// of its own leaves the GPU idle. The gradient scale (clipping and 1/accumulation) is read from device
// memory: the step computes it there, so the host never waits for the gradient norm before updating.
// So are the learning rate and bias corrections, which change every update: a step recorded as a CUDA
// graph refills them before each replay (lib/train/recorded-step.ts), where kernel parameters would stay
// as recorded.
// A weight that products read in bf16 has a kept bfloat16 copy (bf16.ts): the kernel writes the new
// values there too, rounded as a conversion would, so the next step's products need no conversion pass.
import * as tf from '@tensorflow/tfjs';
import { FUSED } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { BF16_BITS, bf16CopyOf } from './bf16.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Parameters one launch updates (their table travels in the kernel's parameters). */
const PER_LAUNCH = 64;

export const ADAMW_SOURCE = `${BF16_BITS}
struct Params {
  float* p[${PER_LAUNCH}]; unsigned short* p16[${PER_LAUNCH}]; const float* g[${PER_LAUNCH}]; float* m[${PER_LAUNCH}]; float* v[${PER_LAUNCH}];
  long long n[${PER_LAUNCH}]; float decay[${PER_LAUNCH}]; int count;  // decay: the weight decay (0: none)
};
// step_size: [lr, correction1, correction2].
extern "C" __global__ void adamw(Params t, const float* grad_scale, const float* step_size, float beta1, float beta2, float eps) {
  float scale = *grad_scale, lr = step_size[0], correction1 = step_size[1], correction2 = step_size[2];
  for (int j = 0; j < t.count; j++) {
    float *p = t.p[j], *m = t.m[j], *v = t.v[j], decay = 1.0f - lr * t.decay[j];
    const float* g = t.g[j];
    unsigned short* p16 = t.p16[j];
    each_4(t.n[j], [&](long long i, int count) {
      float pv[4], gv[4], mv[4], vv[4];
      load_n(p, nullptr, i, count, pv);
      load_n(g, nullptr, i, count, gv);
      load_n(m, nullptr, i, count, mv);
      load_n(v, nullptr, i, count, vv);
      for (int e = 0; e < count; e++) {
        float gi = gv[e] * scale;
        mv[e] = beta1 * mv[e] + (1.0f - beta1) * gi;
        vv[e] = beta2 * vv[e] + (1.0f - beta2) * gi * gi;
        pv[e] = pv[e] * decay - lr * (mv[e] / correction1) / (sqrtf(vv[e] / correction2) + eps);
      }
      store_n(m, nullptr, i, count, mv);
      store_n(v, nullptr, i, count, vv);
      store_n(p, p16, i, count, pv);
    });
  }
}
`;

/**
 * inputs {scale, stepSize, param0, grad0, m0, v0, param1, …}: scale a float32 scalar that multiplies
 * every gradient, stepSize [lr, correction1, correction2]; attrs {beta1, beta2, eps, decay: number[]
 * (each parameter's weight decay, 0 for none)}.
 */
const adamw: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const cuda = backend as CudaBackend;
  const a = attrs as Record<string, number> & { decay: number[] };
  const input = inputs as Record<string, tf.TensorInfo>;
  const params = a.decay.map((decay, j) => ({ param: input[`param${j}`]!, grad: input[`grad${j}`]!, m: input[`m${j}`]!, v: input[`v${j}`]!, decay, n: tf.util.sizeFromShape(input[`param${j}`]!.shape) }));
  for (let first = 0; first < params.length; first += PER_LAUNCH) {
    const some = params.slice(first, first + PER_LAUNCH);
    // The struct's layout: five pointer arrays, n[], decay[], count (3,336 bytes with its padding).
    const table = new ArrayBuffer(6 * 8 * PER_LAUNCH + 4 * PER_LAUNCH + 8);
    const [words, floats] = [new BigInt64Array(table, 0, 6 * PER_LAUNCH), new Float32Array(table, 6 * 8 * PER_LAUNCH, PER_LAUNCH)];
    some.forEach(({ param, grad, m, v, decay, n }, j) => {
      const p16 = cuda.hasBf16(param) ? bf16CopyOf(cuda, param) : 0n; // (0n when products no longer run in bf16)
      if (p16 === 0n) cuda.written(param); // a kept copy of the old weights would be stale
      [cuda.pointer(param), p16, cuda.pointer(grad), cuda.pointer(m), cuda.pointer(v), BigInt(n)].forEach((word, k) => (words[k * PER_LAUNCH + j] = word));
      floats[j] = decay;
    });
    new Int32Array(table, 6 * 8 * PER_LAUNCH + 4 * PER_LAUNCH, 1)[0] = some.length;
    const quads = Math.max(...some.map(({ n }) => Math.ceil(n / 4)));
    // Enough blocks for the largest parameter (the embedding: 33M values) to fill the GPU; small ones take a lap each.
    cuda.launch(ADAMW_SOURCE, 'adamw', Math.max(1, Math.min(Math.ceil(quads / 256), 8 * cuda.multiprocessors)), 256, [
      { struct: new Int32Array(table) }, cuda.pointer(input.scale!), cuda.pointer(input.stepSize!), ...[a.beta1, a.beta2, a.eps].map((f) => ({ f32: f })),
    ]);
  }
  return [];
};

/** This family's tfjs kernels by name. */
export const ADAMW_KERNELS: [string, tf.KernelFunc][] = [[FUSED.adamw, adamw]];
