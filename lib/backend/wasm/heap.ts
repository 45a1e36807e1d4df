// Tensors of the wasm backend live in its WebAssembly heap; our CPU kernels read and write them there
// in place: the SIMD kernels (simd.ts) by their byte offsets, BLAS through typed-array views (koffi
// passes a view's memory as a plain pointer).
import * as tf from '@tensorflow/tfjs';

/** What our kernels use of tfjs-backend-wasm's BackendWasm. */
export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array; asm: { memory: object }; _malloc(bytes: number): number };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
  incRef(dataId: object): void;
}

/** The byte offset of a tensor's values in the heap (a pointer, for the SIMD kernels). */
export function at(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/**
 * A float32 view of `size` values at byte offset `offset` (default: a tensor's values). Take views
 * after every allocation of a kernel: growing the heap detaches views taken before.
 */
export function f32(backend: WasmBackend, t: tf.TensorInfo, offset = at(backend, t), size = tf.util.sizeFromShape(t.shape)): Float32Array {
  return new Float32Array(backend.wasm.HEAPU8.buffer, offset, size);
}

/**
 * A float32 output tensor followed in the same allocation by a tail of `tailFloats` values, as the cuda
 * backend has it: what a fused kernel keeps for its backward lives and dies with the output tfjs
 * already saves for it (tfjs frees the allocation as one when the tensor goes). The tail starts at
 * tail(output).
 */
export function makeOutputWithTail(backend: WasmBackend, shape: number[], tailFloats: number): tf.TensorInfo {
  const offset = backend.wasm._malloc(4 * (tf.util.sizeFromShape(shape) + tailFloats)) >>> 0;
  return backend.makeOutput(shape, 'float32', offset);
}

/** The byte offset of the tail of a tensor made by makeOutputWithTail. */
export function tail(backend: WasmBackend, t: tf.TensorInfo): number {
  return at(backend, t) + 4 * tf.util.sizeFromShape(t.shape);
}
