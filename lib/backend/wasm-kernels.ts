// Kernels the official wasm backend lacks but training needs. UnsortedSegmentSum is the gradient of
// gather, so without it no embedding can be trained on wasm. It runs here in plain JavaScript on the
// tensors' values: a scatter-add is memory-bound, and this keeps one model definition on every backend.
import * as tf from '@tensorflow/tfjs';

interface WasmBackend {
  readSync(dataId: object): ArrayLike<number>;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Float32Array | Int32Array): tf.TensorInfo;
}

/** out[segmentIds[j], …] += x[j, …] for x [S, …rest] (segmentIds of size S): out [numSegments, …rest]. */
function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = args.attrs!.numSegments as number;
  const backend = args.backend as WasmBackend;
  const values = backend.readSync(x.dataId);
  const ids = backend.readSync(segmentIds.dataId);
  const rest = x.shape.slice(segmentIds.shape.length);
  const inner = rest.reduce((a, b) => a * b, 1);
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let j = 0; j < ids.length; j++) {
    const segment = ids[j]!;
    if (segment < 0 || segment >= numSegments) continue; // as TensorFlow: out-of-range ids are dropped
    for (let t = 0; t < inner; t++) out[segment * inner + t]! += values[j * inner + t]!;
  }
  return backend.makeOutput([numSegments, ...rest], x.dtype, undefined, out);
}

/** Register the missing kernels for wasm (once). */
export function registerWasmKernels(): void {
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc });
  }
}
