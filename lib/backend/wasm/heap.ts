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
  disposeData(dataId: object): void;
}

/**
 * The byte offset of a tensor's values in the heap (a pointer, for the SIMD kernels). Looking it up
 * moves a tensor that still lives on another backend into the heap, which may grow it: offsets stay
 * valid, typed-array views taken before do not (see f32).
 */
export function at(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** A tensor, or a region of the heap: [byte offset, float count]. */
export type Region = tf.TensorInfo | [number, number];

/**
 * Float32 views of tensors' values (or of regions) in the heap, for BLAS. Every offset is looked up
 * before any view is made: looking up an input that still lives on another backend moves it into the
 * heap, which may grow it, and growing detaches the views made before.
 */
export function f32(backend: WasmBackend, regions: Region[]): Float32Array[] {
  const places = regions.map((r) => (Array.isArray(r) ? r : [at(backend, r), tf.util.sizeFromShape(r.shape)]));
  return places.map(([offset, size]) => new Float32Array(backend.wasm.HEAPU8.buffer, offset, size));
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
