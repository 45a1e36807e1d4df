// Matrix products through cuBLAS (see ffi/cublas.ts for the row-major arrangement). In bf16 precision
// every product reads bfloat16 copies of its float32 operands, as PyTorch's autocast does; sums stay
// float32. A copy costs a pass over memory, so the backend keeps it with the tensor (bf16Of) for every
// later product that reads it: q, k and v read one normed input, and the backward reads each input of
// the forward again, so one conversion serves two to four products.
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../backend.js';
import type { Gemm } from '../ffi/cublas.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * float32 → bfloat16 bits with round-to-nearest-even (NaN stays NaN): the top 16 bits, rounded. And
 * store(): a kernel's output value i as float32 at out and/or as bfloat16 at out16 (its kept copy, see
 * bf16CopyOf); a null pointer is skipped (storeTo() gives the pair for a tensor). load(): an input's
 * value i from its float32 data, or, when x is null (kept as bfloat16 only), from its copy (loadFrom()).
 */
export const BF16_BITS = `
__device__ __forceinline__ unsigned short bf16_bits(float x) {
  unsigned int u = __float_as_uint(x);
  return ((u & 0x7fffffffu) > 0x7f800000u) ? 0x7fc0 : (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
__device__ __forceinline__ void store(float* out, unsigned short* out16, long long i, float v) {
  if (out) out[i] = v;
  if (out16) out16[i] = bf16_bits(v);
}
__device__ __forceinline__ float load(const float* x, const unsigned short* x16, long long i) {
  return x ? x[i] : __uint_as_float((unsigned)x16[i] << 16);
}
`;

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
 * Room for the bfloat16 copy that a kernel writes beside its float32 output t (with store()), kept
 * with t as operand() keeps the copies it makes, so the products that read t need no conversion pass:
 * when products run in bf16; else 0n, and the kernel writes none.
 */
export function bf16CopyOf(cuda: CudaBackend, t: tf.TensorInfo): bigint {
  const n = tf.util.sizeFromShape(t.shape);
  return cuda.matmulPrecision === 'bf16' && n > 0 ? cuda.bf16Of(t, () => cuda.scratch(n * 2)) : 0n;
}

/**
 * A new float32 tensor whose readers all take bfloat16 — products (operand()) and kernels that load() it:
 * when products run in bf16, kept as bfloat16 only (CudaBackend.allocateBf16), written by store() or by
 * a product into its copy; the float32 values nobody reads are never written. Else float32.
 */
export function allocateProductInput(cuda: CudaBackend, shape: number[]): tf.TensorInfo {
  return cuda.matmulPrecision === 'bf16' && tf.util.sizeFromShape(shape) > 0 ? cuda.allocateBf16(shape) : cuda.allocate(shape, 'float32');
}

/** Where a kernel's store() writes t: its float32 data (none while t is kept in bfloat16 only) and its bf16 copy (bf16CopyOf). */
export function storeTo(cuda: CudaBackend, t: tf.TensorInfo): { out: bigint; out16: bigint } {
  return { out: cuda.hasFloat32(t) ? cuda.pointer(t) : 0n, out16: bf16CopyOf(cuda, t) };
}

/** Where a kernel's load() reads t: its float32 data, or (x null) the copy of a tensor kept in bfloat16 only. */
export function loadFrom(cuda: CudaBackend, t: tf.TensorInfo): { x: bigint; x16: bigint } {
  return cuda.hasFloat32(t) ? { x: cuda.pointer(t), x16: 0n } : { x: 0n, x16: operand(cuda, t, true) };
}

/** A product's shape (see Gemm in ffi/cublas.ts); the batch defaults to one pair of matrices. */
type ProductShape = Pick<Gemm, 'm' | 'n' | 'k' | 'transposeA' | 'transposeB'> & Partial<Pick<Gemm, 'strideA' | 'strideB' | 'batch' | 'accumulate'>>;

/**
 * c = op(a)·op(b) (or +=) in the backend's matmul precision: in bf16, from the operands' kept bfloat16
 * copies, and into c's copy when c is kept as bfloat16 only (cuBLAS rounds the float32 sums: autocast's
 * output type).
 */
export function product(cuda: CudaBackend, a: tf.TensorInfo, b: tf.TensorInfo, c: tf.TensorInfo, shape: ProductShape): void {
  const to = cuda.hasFloat32(c) ? { c: cuda.pointer(c), output: 'float32' as const } : { c: operand(cuda, c, true), output: 'bfloat16' as const };
  cuda.cublas.gemm({ strideA: 0, strideB: 0, batch: 1, ...shape, a: operand(cuda, a), b: operand(cuda, b), ...to, precision: cuda.matmulPrecision });
}

/** Batched matrix product through cuBLAS; a batch of size 1 is reused for every batch of the other. */
const batchMatMul: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`cuda backend: BatchMatMul on ${a.dtype}×${b.dtype} is not supported, expected float32`);
  const last2 = (s: number[], t: boolean) => (t ? [s[s.length - 1]!, s[s.length - 2]!] : [s[s.length - 2]!, s[s.length - 1]!]);
  const [m, k] = last2(a.shape, transposeA) as [number, number];
  const [kb, n] = last2(b.shape, transposeB) as [number, number];
  if (k !== kb) throw new Error(`cuda backend: BatchMatMul inner sizes differ: [${a.shape}]${transposeA ? 'ᵀ' : ''} · [${b.shape}]${transposeB ? 'ᵀ' : ''}`);
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  const batchShape = tf.backend_util.assertAndGetBroadcastShape(batchA, batchB);
  const [batch, sizeA, sizeB] = [batchShape, batchA, batchB].map((s) => tf.util.sizeFromShape(s)) as [number, number, number];
  if ((sizeA !== batch && sizeA !== 1) || (sizeB !== batch && sizeB !== 1)) {
    throw new Error(`cuda backend: BatchMatMul batch shapes [${batchA}] and [${batchB}] broadcast partially, which is not supported`);
  }
  const cuda = backend as CudaBackend;
  const out = cuda.allocate([...batchShape, m, n], 'float32');
  if (batch * m * n === 0) return out;
  product(cuda, a, b, out, { m, n, k, transposeA, transposeB, strideA: sizeA === 1 ? 0 : m * k, strideB: sizeB === 1 ? 0 : k * n, batch });
  return out;
};

/** This family's tfjs kernels by name. */
export const MATMUL_KERNELS: [string, tf.KernelFunc][] = [['BatchMatMul', batchMatMul]];
