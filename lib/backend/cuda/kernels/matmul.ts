// Matrix products through cuBLAS (see ffi/cublas.ts for the row-major arrangement).
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../backend.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Batched matrix product through cuBLAS; a batch of size 1 is reused for every batch of the other. */
const batchMatMul: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`cuda backend: BatchMatMul on ${a.dtype}×${b.dtype} is not supported, expected float32`);
  const last2 = (s: number[], t: boolean) => (t ? [s[s.length - 1]!, s[s.length - 2]!] : [s[s.length - 2]!, s[s.length - 1]!]);
  const [m, k] = last2(a.shape, transposeA);
  const [kb, n] = last2(b.shape, transposeB);
  if (k !== kb) throw new Error(`cuda backend: BatchMatMul inner sizes differ: [${a.shape}]${transposeA ? 'ᵀ' : ''} · [${b.shape}]${transposeB ? 'ᵀ' : ''}`);
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  const batchShape = tf.backend_util.assertAndGetBroadcastShape(batchA, batchB);
  const [batch, sizeA, sizeB] = [batchShape, batchA, batchB].map((s) => tf.util.sizeFromShape(s)) as [number, number, number];
  if ((sizeA !== batch && sizeA !== 1) || (sizeB !== batch && sizeB !== 1)) {
    throw new Error(`cuda backend: BatchMatMul batch shapes [${batchA}] and [${batchB}] broadcast partially, which is not supported`);
  }
  const cuda = backend as CudaBackend;
  const out = cuda.allocate([...batchShape, m!, n!], 'float32');
  if (batch * m! * n! === 0) return out;
  cuda.cublas.gemm({
    m: m!, n: n!, k: k!, transposeA, transposeB, a: cuda.pointer(a), b: cuda.pointer(b), c: cuda.pointer(out),
    strideA: sizeA === 1 ? 0 : m! * k!, strideB: sizeB === 1 ? 0 : k! * n!, batch, compute: 'fp32',
  });
  return out;
};

/** This family's tfjs kernels by name. */
export const MATMUL_KERNELS: [string, tf.KernelFunc][] = [['BatchMatMul', batchMatMul]];
