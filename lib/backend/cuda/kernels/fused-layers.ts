// Fused kernels of the layer building blocks (see lib/model/fused.ts): RMSNorm, SwiGLU's gating and
// RoPE, each with its backward. One pass over memory instead of the 4–8 of the plain composition.
import * as tf from '@tensorflow/tfjs';
import { FUSED, gradOf } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { BLOCK_REDUCE, ROW_BLOCK } from './block-reduce.js';
import { filled } from './layout.js';
import { allocateProductInput, BF16_BITS, loadFrom, storeTo } from './bf16.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * y = x · rsqrt(mean(x²) + eps) · w, one block per row of D. With delta (else null), the row normalized
 * is x + delta, which is also written to sum: a step of the residual stream and the norm after it.
 * y and y16 are store()'s pair: y in float32 and/or bfloat16 (the copy the next products read).
 */
export const RMS_NORM_SOURCE = `${BLOCK_REDUCE}${BF16_BITS}
extern "C" __global__ void rms_norm(float* y, unsigned short* y16, float* sum, const float* x, const float* delta, const float* w, int D, float eps) {
  long long row = (long long)blockIdx.x * D;
  const float* v = delta ? sum + row : x + row;  // the row normalized, once written
  float ss = 0.0f;
  for (int j = threadIdx.x; j < D; j += blockDim.x) {
    float xj = x[row + j];
    if (delta) sum[row + j] = xj += delta[row + j];
    ss += xj * xj;
  }
  float r = rsqrtf(block_sum(ss) / D + eps);
  for (int j = threadIdx.x; j < D; j += blockDim.x) store(y, y16, row + j, v[j] * r * w[j]);  // (each thread reads back only what it wrote)
}
`;

/** Warps per block of the RMSNorm backward: a warp per row, so that a row needs no block-wide synchronisation. */
const NORM_WARPS = 8;

/**
 * Backward of RMSNorm with x̂ = x·r: dx = r·(dy·w − x̂·mean(dy·w·x̂)) (+ residual, the gradient that
 * reaches x another way — the residual stream's — when given), dw = Σ_rows dy·x̂. A warp per row (its
 * second pass reads the row again, from the cache); a block sums its rows' share of dw in shared
 * memory (dynamic, D floats) and adds it to dw (zeroed) once, with atomics.
 */
export const RMS_NORM_GRAD_SOURCE = `${BLOCK_REDUCE}
extern "C" __global__ void rms_norm_grad(float* dx, float* dw, const float* dy, const float* x, const float* w, const float* residual, int rows, int D, float eps) {
  extern __shared__ float dw_block[];
  for (int j = threadIdx.x; j < D; j += blockDim.x) dw_block[j] = 0.0f;
  __syncthreads();
  int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (long long r = (long long)blockIdx.x * warps + (threadIdx.x >> 5); r < rows; r += (long long)gridDim.x * warps) {
    const float* xr = x + r * D;
    const float* dyr = dy + r * D;
    float ss = 0.0f, dot = 0.0f;
    for (int j = lane; j < D; j += 32) { ss += xr[j] * xr[j]; dot += dyr[j] * w[j] * xr[j]; }
    float rs = rsqrtf(warp_sum(ss) / D + eps);
    float mean = warp_sum(dot) * rs / D;  // mean(dy·w·x̂)
    for (int j = lane; j < D; j += 32) {
      float xhat = xr[j] * rs;
      dx[r * D + j] = rs * (dyr[j] * w[j] - xhat * mean) + (residual ? residual[r * D + j] : 0.0f);
      atomicAdd(&dw_block[j], dyr[j] * xhat);
    }
  }
  __syncthreads();
  for (int j = threadIdx.x; j < D; j += blockDim.x) atomicAdd(&dw[j], dw_block[j]);
}
`;

/**
 * h = silu(g)·u and its backward: dg = dy·u·σ(g)·(1 + g·(1 − σ(g))), du = dy·g·σ(g). The outputs feed
 * products only: written with store() (float32 and/or the bfloat16 copy); g and u, the projections'
 * outputs, read with load() (float32, or bfloat16 when kept so).
 */
export const SWIGLU_SOURCE = `${BF16_BITS}
extern "C" __global__ void swiglu(float* h, unsigned short* h16, const float* g, const unsigned short* g16, const float* u, const unsigned short* u16, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    float gi = load(g, g16, i), s = 1.0f / (1.0f + expf(-gi));
    store(h, h16, i, gi * s * load(u, u16, i));
  }
}
extern "C" __global__ void swiglu_grad(float* dg, float* du, unsigned short* dg16, unsigned short* du16, const float* dy,
    const float* g, const unsigned short* g16, const float* u, const unsigned short* u16, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    float gi = load(g, g16, i), ui = load(u, u16, i), s = 1.0f / (1.0f + expf(-gi));
    store(dg, dg16, i, dy[i] * ui * s * (1.0f + gi * (1.0f - s)));
    store(du, du16, i, dy[i] * gi * s);
  }
}
`;

/**
 * RoPE (rotate-half layout) at positions offset…offset+T−1: out = x·cos + rot(x)·sin, rot([x1, x2]) =
 * [−x2, x1]; sign = −1 rotates back (the gradient). Rows of Dh come `group` to a position: 1 for
 * [B, H, T, Dh], H for [B, T, H, Dh]. One thread turns a pair (d, d + Dh/2): each value is read once,
 * so out may be x. Written in float32 to out, in bfloat16 to out16 (flash attention's tiles, a product's
 * kept copy), or both; a null pointer is skipped. x is read with load(): float32, or bfloat16 when kept so.
 */
export const ROPE_SOURCE = `${BF16_BITS}
extern "C" __global__ void rope(float* out, unsigned short* out16, const float* x, const unsigned short* x16, const float* cos_t, const float* sin_t,
    int T, int Dh, int group, int offset, float sign, int n) {
  int half = Dh / 2;
  for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < n / 2; j += gridDim.x * blockDim.x) {
    int row = j / half, d = j % half, i = row * Dh + d, t = (row / group) % T;
    long long table = (long long)(t + offset) * Dh + d;
    float x1 = load(x, x16, i), x2 = load(x, x16, i + half);
    store(out, out16, i, x1 * cos_t[table] - sign * x2 * sin_t[table]);
    store(out, out16, i + half, x2 * cos_t[table + half] + sign * x1 * sin_t[table + half]);
  }
}
`;

/** Rotate n values at x (loadFrom's pair) into out (float32) and/or out16 (bfloat16; 0n: none) — see ROPE_SOURCE. */
export function launchRope(cuda: CudaBackend, out: { out: bigint; out16: bigint }, x: { x: bigint; x16: bigint }, tables: { cos: bigint; sin: bigint }, r: { T: number; Dh: number; group: number; offset: number; sign: number; n: number }): void {
  cuda.launchElementwise(ROPE_SOURCE, 'rope', r.n / 2, [out.out, out.out16, x.x, x.x16, tables.cos, tables.sin, { i32: r.T }, { i32: r.Dh }, { i32: r.group }, { i32: r.offset }, { f32: r.sign }, { i32: r.n }]);
}

/** Blocks of the backward, a warp per row: enough to fill the GPU, at most one warp per row. */
const normBlocks = (cuda: CudaBackend, rows: number) => Math.min(Math.ceil(rows / NORM_WARPS), cuda.multiprocessors * 8);

/**
 * y = RMSNorm(x) — of x + delta, also written to sum, when delta is given. y is kept for products only
 * (allocateProductInput) when `productsOnly`: the norms inside the stack feed projections alone.
 */
function launchRmsNorm(cuda: CudaBackend, x: tf.TensorInfo, delta: tf.TensorInfo | null, weight: tf.TensorInfo, eps: number, productsOnly: boolean): { y: tf.TensorInfo; sum: tf.TensorInfo | null } {
  const D = x.shape[x.shape.length - 1]!;
  const rows = tf.util.sizeFromShape(x.shape) / D;
  const y = productsOnly ? allocateProductInput(cuda, x.shape) : cuda.allocate(x.shape, 'float32');
  const sum = delta ? cuda.allocate(x.shape, 'float32') : null;
  if (rows > 0) {
    const { out, out16 } = storeTo(cuda, y);
    cuda.launch(RMS_NORM_SOURCE, 'rms_norm', rows, ROW_BLOCK, [
      out, out16, sum ? cuda.pointer(sum) : 0n, cuda.pointer(x), delta ? cuda.pointer(delta) : 0n, cuda.pointer(weight), { i32: D }, { f32: eps },
    ]);
  }
  return { y, sum };
}

/**
 * inputs {x, weight} → y, in float32 too: the final norm's output is also read by the LM head's backward
 * (dy∘h). (The first layer's input norm comes here as well and keeps float32 it need not: one tensor.)
 */
const rmsNorm: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x, weight } = inputs as { x: tf.TensorInfo; weight: tf.TensorInfo };
  return launchRmsNorm(backend as CudaBackend, x, null, weight, attrs!.eps as number, false).y;
};

/** inputs {h, delta, weight} → [h + delta, its RMSNorm]. */
const addRmsNorm: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { h, delta, weight } = inputs as { h: tf.TensorInfo; delta: tf.TensorInfo; weight: tf.TensorInfo };
  const { y, sum } = launchRmsNorm(backend as CudaBackend, h, delta, weight, attrs!.eps as number, true);
  return [sum!, y];
};

/** inputs {dy, x, weight, residual?} → [dx (+ residual), dweight]. */
const rmsNormGrad: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { dy, x, weight, residual } = inputs as Record<string, tf.TensorInfo | undefined>;
  const cuda = backend as CudaBackend;
  const D = x!.shape[x!.shape.length - 1]!;
  if (D > 12_288) throw new Error(`cuda backend: fused RMSNorm's gradient sums dw in shared memory, which holds widths up to 12,288, got ${D}`);
  const rows = tf.util.sizeFromShape(x!.shape) / D;
  const dx = cuda.allocate(x!.shape, 'float32');
  const dw = filled(cuda, weight!.shape, 'float32', 0);
  if (rows > 0) {
    cuda.launch(RMS_NORM_GRAD_SOURCE, 'rms_norm_grad', normBlocks(cuda, rows), 32 * NORM_WARPS, [
      cuda.pointer(dx), cuda.pointer(dw), cuda.pointer(dy!), cuda.pointer(x!), cuda.pointer(weight!), residual ? cuda.pointer(residual) : 0n,
      { i32: rows }, { i32: D }, { f32: attrs!.eps as number },
    ], 4 * D);
  }
  return [dx, dw];
};

const swiglu: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { gate, up } = inputs as { gate: tf.TensorInfo; up: tf.TensorInfo };
  const cuda = backend as CudaBackend;
  const n = tf.util.sizeFromShape(gate.shape);
  const h = allocateProductInput(cuda, gate.shape); // read by the down projection (and its gradient) alone
  const [{ out, out16 }, g, u] = [storeTo(cuda, h), loadFrom(cuda, gate), loadFrom(cuda, up)];
  cuda.launchElementwise(SWIGLU_SOURCE, 'swiglu', n, [out, out16, g.x, g.x16, u.x, u.x16, { i32: n }]);
  return h;
};

const swigluGrad: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { dy, gate, up } = inputs as { dy: tf.TensorInfo; gate: tf.TensorInfo; up: tf.TensorInfo };
  const cuda = backend as CudaBackend;
  const n = tf.util.sizeFromShape(gate.shape);
  const [dg, du] = [allocateProductInput(cuda, gate.shape), allocateProductInput(cuda, up.shape)]; // read by the projections' gradient alone
  const [dgTo, duTo, g, u] = [storeTo(cuda, dg), storeTo(cuda, du), loadFrom(cuda, gate), loadFrom(cuda, up)];
  cuda.launchElementwise(SWIGLU_SOURCE, 'swiglu_grad', n, [dgTo.out, duTo.out, dgTo.out16, duTo.out16, cuda.pointer(dy), g.x, g.x16, u.x, u.x16, { i32: n }]);
  return [dg, du];
};

const rope: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x, cos, sin } = inputs as { x: tf.TensorInfo; cos: tf.TensorInfo; sin: tf.TensorInfo };
  const cuda = backend as CudaBackend;
  const [, , T, Dh] = x.shape as [number, number, number, number];
  const n = tf.util.sizeFromShape(x.shape);
  const out = cuda.allocate(x.shape, 'float32');
  const tables = { cos: cuda.pointer(cos), sin: cuda.pointer(sin) };
  launchRope(cuda, { out: cuda.pointer(out), out16: 0n }, loadFrom(cuda, x), tables, { T, Dh, group: 1, offset: attrs!.offset as number, sign: attrs!.inverse ? -1 : 1, n });
  return out;
};

/** This family's tfjs kernels by name. */
export const FUSED_LAYER_KERNELS: [string, tf.KernelFunc][] = [
  [FUSED.rmsNorm, rmsNorm], [gradOf(FUSED.rmsNorm), rmsNormGrad], [FUSED.addRmsNorm, addRmsNorm], [gradOf(FUSED.addRmsNorm), rmsNormGrad], [FUSED.swiglu, swiglu], [gradOf(FUSED.swiglu), swigluGrad], [FUSED.rope, rope],
];
