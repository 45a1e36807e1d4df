// Fused kernels of the layer building blocks (see lib/model/fused.ts): RMSNorm, SwiGLU's gating and
// RoPE, each with its backward. One pass over memory instead of the 4–8 of the plain composition.
import * as tf from '@tensorflow/tfjs';
import { FUSED, gradOf } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { BLOCK_REDUCE } from './block-reduce.js';
import { filled } from './layout.js';
import { allocateProductInput, BF16_BITS, bf16CopyOf, loadFrom, storeTo } from './bf16.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Warps per block of the RMSNorm kernels: a warp per row, so that a row needs no block-wide synchronisation. */
const NORM_WARPS = 8;

/**
 * y = x · rsqrt(mean(x²) + eps) · w, a warp per row of D (row_each: 4 neighbouring values per access).
 * With sum (else null), the row normalized is x + delta, which is written to sum: a step of the residual
 * stream and the norm after it (delta, a projection's output, read with load()).
 * y and y16 are store()'s pair: y in float32 and/or bfloat16 (the copy the next products read).
 */
export const RMS_NORM_SOURCE = `${BLOCK_REDUCE}${BF16_BITS}
extern "C" __global__ void rms_norm(float* __restrict__ y, unsigned short* __restrict__ y16, float* __restrict__ sum, const float* __restrict__ x,
    const float* __restrict__ delta, const unsigned short* __restrict__ delta16, const float* __restrict__ w, int D, float eps, long long rows) {
  long long r = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (r >= rows) return;
  int lane = threadIdx.x & 31;
  long long row = r * D;
  const float* v = sum ? sum + row : x + row;  // the row normalized, once written
  float ss = 0.0f;
  row_each(D, lane, [&](int j, int count) {
    float xv[4], dv[4];
    load_n(x, nullptr, row + j, count, xv);
    if (sum) {
      load_n(delta, delta16, row + j, count, dv);
      for (int i = 0; i < count; i++) xv[i] += dv[i];
      store_n(sum, nullptr, row + j, count, xv);
    }
    for (int i = 0; i < count; i++) ss += xv[i] * xv[i];
  });
  float rs = rsqrtf(warp_sum(ss) / D + eps);
  row_each(D, lane, [&](int j, int count) {  // (each lane reads back only what it wrote)
    float vv[4], wv[4];
    load_n(v, nullptr, j, count, vv);
    load_n(w, nullptr, j, count, wv);
    for (int i = 0; i < count; i++) vv[i] = vv[i] * rs * wv[i];
    store_n(y, y16, row + j, count, vv);
  });
}
`;

/**
 * Backward of RMSNorm with x̂ = x·r: dx = r·(dy·w − x̂·mean(dy·w·x̂)) (+ residual, the gradient that
 * reaches x another way — the residual stream's — when given), dw = Σ_rows dy·x̂. A warp per row (its
 * second pass reads the row again, from the cache); a block sums its rows' share of dw in shared memory
 * and adds it to dw (zeroed) once, with atomics. Where D floats a warp fit (per_warp), each warp sums
 * into its own row of shared memory, a lane into its own columns: no atomics there, where all the
 * warps' shared-memory atomics on one row of D had queued on each other. dy, the projections' input
 * gradient, is read with load(); dx, the residual stream's gradient, is read by the products of the
 * sublayer before (store(): float32 and its bfloat16 copy).
 */
export const RMS_NORM_GRAD_SOURCE = `${BLOCK_REDUCE}${BF16_BITS}
extern "C" __global__ void rms_norm_grad(float* __restrict__ dx, unsigned short* __restrict__ dx16, float* __restrict__ dw, const float* __restrict__ dy,
    const unsigned short* __restrict__ dy16, const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ residual, int rows, int D, float eps, int per_warp) {
  extern __shared__ float dw_block[];  // [warps][D] per_warp, else [D]
  int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  int slices = per_warp ? warps : 1;
  for (int j = threadIdx.x; j < slices * D; j += blockDim.x) dw_block[j] = 0.0f;
  __syncthreads();
  float* dw_mine = dw_block + (per_warp ? (threadIdx.x >> 5) * D : 0);
  for (long long r = (long long)blockIdx.x * warps + (threadIdx.x >> 5); r < rows; r += (long long)gridDim.x * warps) {
    long long row = r * D;
    float ss = 0.0f, dot = 0.0f;
    row_each(D, lane, [&](int j, int count) {
      float xv[4], gv[4], wv[4];
      load_n(x, nullptr, row + j, count, xv);
      load_n(dy, dy16, row + j, count, gv);
      load_n(w, nullptr, j, count, wv);
      for (int i = 0; i < count; i++) { ss += xv[i] * xv[i]; dot += gv[i] * wv[i] * xv[i]; }
    });
    float rs = rsqrtf(warp_sum(ss) / D + eps);
    float mean = warp_sum(dot) * rs / D;  // mean(dy·w·x̂)
    row_each(D, lane, [&](int j, int count) {
      float xv[4], gv[4], wv[4], rv[4] = {0.0f, 0.0f, 0.0f, 0.0f}, out[4];
      load_n(x, nullptr, row + j, count, xv);
      load_n(dy, dy16, row + j, count, gv);
      load_n(w, nullptr, j, count, wv);
      if (residual) load_n(residual, nullptr, row + j, count, rv);
      for (int i = 0; i < count; i++) {
        float xhat = xv[i] * rs;
        out[i] = rs * (gv[i] * wv[i] - xhat * mean) + rv[i];
        if (per_warp) dw_mine[j + i] += gv[i] * xhat;
        else atomicAdd(&dw_mine[j + i], gv[i] * xhat);
      }
      store_n(dx, dx16, row + j, count, out);
    });
  }
  __syncthreads();
  for (int j = threadIdx.x; j < D; j += blockDim.x) {
    float sum = 0.0f;
    for (int w = 0; w < slices; w++) sum += dw_block[w * D + j];
    atomicAdd(&dw[j], sum);
  }
}
`;

/**
 * h = silu(g)·u and its backward: dg = dy·u·σ(g)·(1 + g·(1 − σ(g))), du = dy·g·σ(g). The outputs feed
 * products only: written with store() (float32 and/or the bfloat16 copy); g and u, the projections'
 * outputs, and dy, the down projection's input gradient, read with load() (float32, or bfloat16 when
 * kept so).
 */
export const SWIGLU_SOURCE = `${BF16_BITS}
extern "C" __global__ void swiglu(float* h, unsigned short* h16, const float* g, const unsigned short* g16, const float* u, const unsigned short* u16, int n) {
  each_4(n, [&](long long i, int count) {
    float gv[4], uv[4], hv[4];
    load_n(g, g16, i, count, gv);
    load_n(u, u16, i, count, uv);
    for (int e = 0; e < count; e++) {
      float s = 1.0f / (1.0f + expf(-gv[e]));
      hv[e] = gv[e] * s * uv[e];
    }
    store_n(h, h16, i, count, hv);
  });
}
extern "C" __global__ void swiglu_grad(float* dg, float* du, unsigned short* dg16, unsigned short* du16, const float* dy, const unsigned short* dy16,
    const float* g, const unsigned short* g16, const float* u, const unsigned short* u16, int n) {
  each_4(n, [&](long long i, int count) {
    float dyv[4], gv[4], uv[4], dgv[4], duv[4];
    load_n(dy, dy16, i, count, dyv);
    load_n(g, g16, i, count, gv);
    load_n(u, u16, i, count, uv);
    for (int e = 0; e < count; e++) {
      float s = 1.0f / (1.0f + expf(-gv[e]));
      dgv[e] = dyv[e] * uv[e] * s * (1.0f + gv[e] * (1.0f - s));
      duv[e] = dyv[e] * gv[e] * s;
    }
    store_n(dg, dg16, i, count, dgv);
    store_n(du, du16, i, count, duv);
  });
}
`;

/**
 * RoPE (rotate-half layout) at positions offset…offset+T−1: out = x·cos + rot(x)·sin, rot([x1, x2]) =
 * [−x2, x1]; sign = −1 rotates back (the gradient). Rows of Dh come `group` to a position: 1 for
 * [B, H, T, Dh], H for [B, T, H, Dh]. A thread turns pairs (d, d + Dh/2), 4 neighbouring ones at a
 * time: each value is read once, so out may be x. Written in float32 to out, in bfloat16 to out16 (flash
 * attention's tiles, a product's kept copy), or both; a null pointer is skipped. x is read with load():
 * float32, or bfloat16 when kept so.
 */
export const ROPE_SOURCE = `${BF16_BITS}
extern "C" __global__ void rope(float* out, unsigned short* out16, const float* x, const unsigned short* x16, const float* cos_t, const float* sin_t,
    int T, int Dh, int group, int offset, float sign, int n) {
  int half = Dh / 2;
  // Pairs j … j+count−1 (of one row: 4 at a time when a half-row holds a multiple of 4).
  auto turn = [&](long long j, int count) {
    int row = j / half, d = j % half, t = (row / group) % T;
    long long i = (long long)row * Dh + d, table = (long long)(t + offset) * Dh + d;
    float x1[4], x2[4], y1[4], y2[4];
    load_n(x, x16, i, count, x1);
    load_n(x, x16, i + half, count, x2);
    for (int e = 0; e < count; e++) {
      y1[e] = x1[e] * cos_t[table + e] - sign * x2[e] * sin_t[table + e];
      y2[e] = x2[e] * cos_t[table + half + e] + sign * x1[e] * sin_t[table + half + e];
    }
    store_n(out, out16, i, count, y1);
    store_n(out, out16, i + half, count, y2);
  };
  if (half % 4 == 0) {
    each_4(n / 2, turn);
  } else {
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < n / 2; j += (long long)gridDim.x * blockDim.x) turn(j, 1);
  }
}
`;

/** Rotate n values at x (loadFrom's pair) into out (float32) and/or out16 (bfloat16; 0n: none) — see ROPE_SOURCE. */
export function launchRope(cuda: CudaBackend, out: { out: bigint; out16: bigint }, x: { x: bigint; x16: bigint }, tables: { cos: bigint; sin: bigint }, r: { T: number; Dh: number; group: number; offset: number; sign: number; n: number }): void {
  cuda.launchElementwise(ROPE_SOURCE, 'rope', Math.ceil(r.n / 8), [out.out, out.out16, x.x, x.x16, tables.cos, tables.sin, { i32: r.T }, { i32: r.Dh }, { i32: r.group }, { i32: r.offset }, { f32: r.sign }, { i32: r.n }]);
}

/**
 * Blocks of the backward, a warp per row: as many as the GPU runs at once (its registers and each
 * block's `sharedBytes` permitting), at most one warp per row. One wave: a second, partial one (at
 * D = 2,048, 64 KB a block, three fit an SM, and 1,024 blocks made 2.6 waves) leaves SMs idle, and
 * each block's share of dw is one more round of atomics on the same D sums (with row_each unrolled: 92m
 * 1.80 → 1.71 ms a step on an H100, 440m 6.00 → 5.92).
 */
const normBlocks = (cuda: CudaBackend, rows: number, sharedBytes: number) =>
  Math.min(Math.ceil(rows / NORM_WARPS), cuda.blocksAWave(RMS_NORM_GRAD_SOURCE, 'rms_norm_grad', 32 * NORM_WARPS, sharedBytes));

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
    const d = delta ? loadFrom(cuda, delta) : { x: 0n, x16: 0n };
    cuda.launch(RMS_NORM_SOURCE, 'rms_norm', Math.ceil(rows / NORM_WARPS), 32 * NORM_WARPS, [
      out, out16, sum ? cuda.pointer(sum) : 0n, cuda.pointer(x), d.x, d.x16, cuda.pointer(weight), { i32: D }, { f32: eps }, BigInt(rows),
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
    const g = loadFrom(cuda, dy!);
    const perWarp = 4 * D * NORM_WARPS <= 96 * 1024; // (D ≤ 3,072)
    const sharedBytes = 4 * D * (perWarp ? NORM_WARPS : 1);
    cuda.launch(RMS_NORM_GRAD_SOURCE, 'rms_norm_grad', normBlocks(cuda, rows, sharedBytes), 32 * NORM_WARPS, [
      cuda.pointer(dx), bf16CopyOf(cuda, dx), cuda.pointer(dw), g.x, g.x16, cuda.pointer(x!), cuda.pointer(weight!), residual ? cuda.pointer(residual) : 0n,
      { i32: rows }, { i32: D }, { f32: attrs!.eps as number }, { i32: perWarp ? 1 : 0 },
    ], sharedBytes);
  }
  return [dx, dw];
};

const swiglu: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { gate, up } = inputs as { gate: tf.TensorInfo; up: tf.TensorInfo };
  const cuda = backend as CudaBackend;
  const n = tf.util.sizeFromShape(gate.shape);
  const h = allocateProductInput(cuda, gate.shape); // read by the down projection (and its gradient) alone
  const [{ out, out16 }, g, u] = [storeTo(cuda, h), loadFrom(cuda, gate), loadFrom(cuda, up)];
  cuda.launchElementwise(SWIGLU_SOURCE, 'swiglu', Math.ceil(n / 4), [out, out16, g.x, g.x16, u.x, u.x16, { i32: n }]);
  return h;
};

const swigluGrad: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { dy, gate, up } = inputs as { dy: tf.TensorInfo; gate: tf.TensorInfo; up: tf.TensorInfo };
  const cuda = backend as CudaBackend;
  const n = tf.util.sizeFromShape(gate.shape);
  const [dg, du] = [allocateProductInput(cuda, gate.shape), allocateProductInput(cuda, up.shape)]; // read by the projections' gradient alone
  const [dgTo, duTo, d, g, u] = [storeTo(cuda, dg), storeTo(cuda, du), loadFrom(cuda, dy), loadFrom(cuda, gate), loadFrom(cuda, up)];
  cuda.launchElementwise(SWIGLU_SOURCE, 'swiglu_grad', Math.ceil(n / 4), [dgTo.out, duTo.out, dgTo.out16, duTo.out16, d.x, d.x16, g.x, g.x16, u.x, u.x16, { i32: n }]);
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
