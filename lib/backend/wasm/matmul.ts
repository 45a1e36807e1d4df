// BatchMatMul on the wasm backend through BLAS: one batched sgemm on the operands where they lie in the
// heap, transposed or not (BLAS reads either layout at full speed, so no transpose pass).
import * as tf from '@tensorflow/tfjs';
import type { Blas } from './blas.js';
import { f32, type WasmBackend } from './heap.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * The BatchMatMul kernel: a [..., m, k] (or [..., k, m] transposed) times b [..., k, n] (or [..., n, k]).
 * Batch dimensions must match or one side must have a single entry (reused for every entry of the
 * other); any other broadcast goes to `fallback`, the wasm backend's own kernel.
 */
export function blasBatchMatMul(blas: Blas, fallback: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs): tf.TensorInfo => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
    const batchA = tf.util.sizeFromShape(outerA), batchB = tf.util.sizeFromShape(outerB);
    const sameBatch = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !(sameBatch || batchA === 1 || batchB === 1)) {
      return fallback(args) as tf.TensorInfo;
    }
    const [ra, rb] = [a.shape.length, b.shape.length];
    const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    if (k !== kb) throw new Error(`matMul: inner sizes ${k} and ${kb} of [${a.shape}] and [${b.shape}] (transposeA=${transposeA}, transposeB=${transposeB}) must match`);
    const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
    const batch = Math.max(batchA, batchB);
    const backend = args.backend as unknown as WasmBackend;
    const out = backend.makeOutput([...outer, m, n], 'float32');
    const [av, bv, cv] = f32(backend, [a, b, out]);
    if (k === 0) {
      cv.fill(0);
      return out;
    }
    blas.sgemm({ m, n, k, transposeA, transposeB, a: av, b: bv, c: cv, batch, strideA: batchA === 1 ? 0 : m * k, strideB: batchB === 1 ? 0 : k * n });
    return out;
  };
}
