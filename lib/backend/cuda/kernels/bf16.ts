// bfloat16 storage of activations. In bf16 precision every product reads bfloat16 copies of its
// float32 operands, as PyTorch's autocast does. A copy costs a pass over memory, so the backend keeps it
// with the tensor (CudaBackend.bf16Of) for every later product that reads it — q, k and v read one normed
// input, and the backward reads each input of the forward again — and the kernels that make a tensor
// write its copy as they go (store()). A tensor whose readers all take bfloat16 (products, and kernels
// that read it with load()) is kept as that copy alone (CudaBackend.allocateBf16): its float32 values
// are never written, and made from the copy only if something asks for them (CudaBackend.pointer).
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../backend.js';

/**
 * float32 → bfloat16 bits with round-to-nearest-even (NaN stays NaN): the top 16 bits, rounded; and
 * bf16_pair(), two values at once, in one instruction where the GPU converts (sm_80+). And
 * store(): a kernel's output value i as float32 at out and/or as bfloat16 at out16 (its kept copy, see
 * bf16CopyOf); a null pointer is skipped (storeTo() gives the pair for a tensor). load(): an input's
 * value i from its float32 data, or, when x is null (kept as bfloat16 only), from its copy (loadFrom()).
 * load_n()/store_n() move 4 neighbouring values at once, for each_4(), an elementwise grid-stride loop,
 * and row_each(), a warp's walk over one row.
 */
export const BF16_BITS = `
__device__ __forceinline__ unsigned short bf16_bits(float x) {
  unsigned int u = __float_as_uint(x);
  return ((u & 0x7fffffffu) > 0x7f800000u) ? 0x7fc0 : (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
// lo and hi as neighbouring bfloat16 values (lo at the lower address).
__device__ __forceinline__ unsigned bf16_pair(float lo, float hi) {
#if __CUDA_ARCH__ >= 800
  unsigned r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
#else
  return bf16_bits(lo) | ((unsigned)bf16_bits(hi) << 16);
#endif
}
__device__ __forceinline__ void store(float* out, unsigned short* out16, long long i, float v) {
  if (out) out[i] = v;
  if (out16) out16[i] = bf16_bits(v);
}
__device__ __forceinline__ float load(const float* x, const unsigned short* x16, long long i) {
  return x ? x[i] : __uint_as_float((unsigned)x16[i] << 16);
}
// The same for values i … i+count−1, count 4 (i a multiple of 4: one 16- or 8-byte access) or 1.
__device__ __forceinline__ void load_n(const float* x, const unsigned short* x16, long long i, int count, float* v) {
  if (count == 1) { v[0] = load(x, x16, i); return; }
  if (x) { float4 q = *(const float4*)(x + i); v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w; return; }
  uint2 q = *(const uint2*)(x16 + i);
  v[0] = __uint_as_float(q.x << 16); v[1] = __uint_as_float(q.x & 0xffff0000u); v[2] = __uint_as_float(q.y << 16); v[3] = __uint_as_float(q.y & 0xffff0000u);
}
__device__ __forceinline__ void store_n(float* out, unsigned short* out16, long long i, int count, const float* v) {
  if (count == 1) { store(out, out16, i, v[0]); return; }
  if (out) *(float4*)(out + i) = make_float4(v[0], v[1], v[2], v[3]);
  if (out16) *(uint2*)(out16 + i) = make_uint2(bf16_pair(v[0], v[1]), bf16_pair(v[2], v[3]));
}
// f(i, count) over n elements, grid-stride, 4 at a time (count 4), then the last n % 4 one by one: wide
// accesses keep more bytes in flight per thread, which a pass over memory needs to reach its bandwidth.
// (Launched for n / 4 threads: launchElementwise(…, ceil(n / 4), …).)
template <typename F> __device__ __forceinline__ void each_4(long long n, F f) {
  long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x, threads = (long long)gridDim.x * blockDim.x;
  for (long long i = 4 * t; i + 4 <= n; i += 4 * threads) f(i, 4);
  for (long long i = (n & ~3ll) + t; i < n; i += threads) f(i, 1);
}
// f(j, count) over a row of D values by the 32 lanes of a warp (lane 0…31): 4 neighbours at a time
// (count 4) when every row starts on a 16-byte boundary (D a multiple of 4), else one by one.
// Unrolled four times: a wide row's loads (D = 2,048: 16 a lane) go out four at a time, not one by one
// (with __restrict__ pointers, RMSNorm's forward at 440m: 4.22 → 3.83 ms a step on an H100).
template <typename F> __device__ __forceinline__ void row_each(int D, int lane, F f) {
  if ((D & 3) == 0) {
#pragma unroll 4
    for (int j = 4 * lane; j < D; j += 128) f(j, 4);
  } else {
#pragma unroll 4
    for (int j = lane; j < D; j += 32) f(j, 1);
  }
}
`;

/** float32 → bfloat16: a product's operand copy made from a tensor's float32 values. */
export const TO_BF16_SOURCE = `${BF16_BITS}
extern "C" __global__ void to_bf16(unsigned short* out, const float* x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) out[i] = bf16_bits(x[i]);
}
`;

/** bfloat16 → float32 (exact): a tensor kept in bfloat16 only, made float32 for a reader that needs it (CudaBackend.pointer). */
export const FROM_BF16_SOURCE = `
extern "C" __global__ void from_bf16(float* out, const unsigned short* x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) out[i] = __uint_as_float((unsigned)x[i] << 16);
}
`;

/** The bfloat16 copy of a float32 tensor that the backend keeps with it (made now if there is none). */
function bf16Operand(cuda: CudaBackend, t: tf.TensorInfo): bigint {
  return cuda.bf16Of(t, () => {
    const n = tf.util.sizeFromShape(t.shape);
    const half = cuda.scratch(n * 2);
    cuda.launchElementwise(TO_BF16_SOURCE, 'to_bf16', n, [half, cuda.pointer(t), BigInt(n)]);
    return half;
  });
}

/** A product's operand as the product reads it: the kept bfloat16 copy when bf16 (products in bf16 precision), else the float32 data. */
export function operand(cuda: CudaBackend, t: tf.TensorInfo, bf16 = cuda.matmulPrecision === 'bf16'): bigint {
  return bf16 ? bf16Operand(cuda, t) : cuda.pointer(t);
}

/**
 * Room for the bfloat16 copy that a kernel writes of its output t (with store()) — beside t's float32
 * values, or as t's only data — kept with t as operand() keeps the copies it makes, so the products that
 * read t need no conversion pass: when products run in bf16; else 0n, and the kernel writes none.
 */
export function bf16CopyOf(cuda: CudaBackend, t: tf.TensorInfo): bigint {
  const n = tf.util.sizeFromShape(t.shape);
  return cuda.matmulPrecision === 'bf16' && n > 0 ? cuda.bf16Of(t, () => cuda.scratch(n * 2)) : 0n;
}

/**
 * A new float32 tensor whose readers all take bfloat16 — products (operand()) and kernels that load() it:
 * when products run in bf16, kept as bfloat16 only (CudaBackend.allocateBf16), written by store() or by
 * a product into its copy; the float32 values nobody reads are never written. Else float32. With
 * `tailBytes` of a tail (CudaBackend.allocate).
 */
export function allocateProductInput(cuda: CudaBackend, shape: number[], tailBytes = 0): tf.TensorInfo {
  return cuda.matmulPrecision === 'bf16' && tf.util.sizeFromShape(shape) > 0 ? cuda.allocateBf16(shape, tailBytes) : cuda.allocate(shape, 'float32', tailBytes);
}

/** Where a kernel's store() writes t: its float32 data (none while t is kept in bfloat16 only) and its bf16 copy (bf16CopyOf). */
export function storeTo(cuda: CudaBackend, t: tf.TensorInfo): { out: bigint; out16: bigint } {
  return { out: cuda.hasFloat32(t) ? cuda.pointer(t) : 0n, out16: bf16CopyOf(cuda, t) };
}

/** Where a kernel's load() reads t: its float32 data, or (x null) the copy of a tensor kept in bfloat16 only. */
export function loadFrom(cuda: CudaBackend, t: tf.TensorInfo): { x: bigint; x16: bigint } {
  return cuda.hasFloat32(t) ? { x: cuda.pointer(t), x16: 0n } : { x: 0n, x16: operand(cuda, t, true) };
}
