// Identity that shares its input's data, as it does on the cpu and cuda backends; tfjs-backend-wasm
// copies it. tfjs clones every tensor it saves for a backward pass, so a step made ~400 copies, and
// the fused head loss (whose logits gradient belongs to its output's data) needs the saved clone to be
// the same data.
import type * as tf from '@tensorflow/tfjs';
import type { WasmBackend } from '../heap.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** y = x, the same data with one more reference. */
export const identity = ({ inputs, backend }: KernelArgs): tf.TensorInfo => {
  const { x } = inputs as { x: tf.TensorInfo };
  (backend as unknown as WasmBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};
