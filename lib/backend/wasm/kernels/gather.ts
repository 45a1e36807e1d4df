// GatherV2 (tf.gather, the embedding lookup) and its gradient UnsortedSegmentSum as whole-row copies and
// SIMD row sums in the SIMD module: tfjs-backend-wasm's gather computes every element's index and took
// ~6 ms of a nano step to look up 1,024 rows of 128, and the segment sum in JavaScript (extra-kernels.ts)
// ~9 ms. Batched gathers (batchDims > 0) and other dtypes go to those kernels.
import * as tf from '@tensorflow/tfjs';
import { at, type WasmBackend } from '../heap.js';
import { simd } from '../simd.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The GatherV2 kernel: x [...outer, dim, ...inner], indices [...] int32 along `axis`. */
export const gather = (fallback: tf.KernelFunc) => (args: KernelArgs): tf.TensorInfo => {
  const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
  if (batchDims !== 0 || !(x.dtype === 'float32' || x.dtype === 'int32')) return fallback(args) as tf.TensorInfo;
  const wasm = args.backend as unknown as WasmBackend;
  const a = tf.util.parseAxisParam(axis, x.shape)[0]!;
  const dim = x.shape[a]!;
  const ids = (args.backend as unknown as { readSync(dataId: object): Int32Array }).readSync(indices.dataId);
  for (const id of ids) if (!(id >= 0 && id < dim)) throw new Error(`GatherV2: the index value ${id} is not in [0, ${dim - 1}]`);
  const outer = tf.util.sizeFromShape(x.shape.slice(0, a)), inner = tf.util.sizeFromShape(x.shape.slice(a + 1));
  const out = wasm.makeOutput([...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)], x.dtype);
  if (tf.util.sizeFromShape(out.shape) > 0) simd(wasm).gather_rows(at(wasm, out), at(wasm, x), at(wasm, indices), outer, dim, ids.length, inner);
  return out;
};

/** UnsortedSegmentSum for float32 x [S, …rest] and segmentIds [S]: out [numSegments, …rest]. */
export const segmentSum = (fallback: tf.KernelFunc) => (args: KernelArgs): tf.TensorInfo => {
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = args.attrs!.numSegments as number;
  if (x.dtype !== 'float32' || segmentIds.shape.length !== 1) return fallback(args) as tf.TensorInfo;
  const wasm = args.backend as unknown as WasmBackend;
  const rest = x.shape.slice(1);
  const out = wasm.makeOutput([numSegments, ...rest], 'float32');
  simd(wasm).segment_sum_rows(at(wasm, out), at(wasm, x), at(wasm, segmentIds), x.shape[0]!, numSegments, tf.util.sizeFromShape(rest));
  return out;
};
