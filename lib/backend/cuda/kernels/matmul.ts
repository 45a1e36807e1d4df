// Matrix products through cuBLAS (see ffi/cublas.ts for the row-major arrangement). In bf16 precision
// every product reads the bfloat16 copies of its operands (bf16.ts) and sums in float32; it writes
// float32, or bfloat16 into the copy of an output kept as bfloat16 alone.
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../backend.js';
import type { Gemm } from '../ffi/cublas.js';
import { operand } from './bf16.js';
import { filled } from './layout.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** A product's shape (see Gemm in ffi/cublas.ts); the batch defaults to one pair of matrices. */
type ProductShape = Pick<Gemm, 'm' | 'n' | 'k' | 'transposeA' | 'transposeB'> & Partial<Pick<Gemm, 'strideA' | 'strideB' | 'batch' | 'accumulate'>>;

/**
 * c = op(a)·op(b) (or +=) in the backend's matmul precision: in bf16, from the operands' kept bfloat16
 * copies, and into c's copy when c is kept as bfloat16 only (cuBLAS rounds the float32 sums: autocast's
 * output type).
 */
export function product(cuda: CudaBackend, a: tf.TensorInfo, b: tf.TensorInfo, c: tf.TensorInfo, shape: ProductShape): void {
  const to = cuda.hasFloat32(c) ? { c: cuda.pointer(c), output: 'float32' as const } : { c: operand(cuda, c, true), output: 'bfloat16' as const };
  cuda.gemm({ strideA: 0, strideB: 0, batch: 1, ...shape, a: operand(cuda, a), b: operand(cuda, b), ...to, precision: cuda.matmulPrecision });
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
  if (k === 0) return filled(cuda, [...batchShape, m, n], 'float32', 0); // an empty sum (a weight's gradient over zero rows)
  const out = cuda.allocate([...batchShape, m, n], 'float32');
  if (batch * m * n === 0) return out;
  product(cuda, a, b, out, { m, n, k, transposeA, transposeB, strideA: sizeA === 1 ? 0 : m * k, strideB: sizeB === 1 ? 0 : k * n, batch });
  return out;
};

/** This family's tfjs kernels by name. */
export const MATMUL_KERNELS: [string, tf.KernelFunc][] = [['BatchMatMul', batchMatMul]];
