// The KV cache's kernels (lib/model/kv-cache.ts) on the cpu and wasm backends, in JavaScript over the
// tensors' own memory: the cpu backend's typed arrays (readSync returns the array itself, not a copy)
// and the wasm backend's heap. The write changes the cache tensor in place — the one kernel that does;
// only KvCache calls it, on tensors that nothing else holds.
import * as tf from '@tensorflow/tfjs';
import { KV_CACHE } from '../model/fused.js';
import { MAKE_OUTPUT } from './extra-kernels.js';
import { f32, type WasmBackend } from './wasm/heap.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type BackendName = 'cpu' | 'wasm';
interface ReadableBackend {
  readSync(dataId: object): ArrayLike<number>;
}

/** The float32 values of tensors, as views of the backend's own memory (writes land in the tensors). */
function floats(backendName: BackendName, backend: unknown, tensors: tf.TensorInfo[]): Float32Array[] {
  if (backendName === 'wasm') return f32(backend as WasmBackend, tensors);
  return tensors.map((t) => (backend as ReadableBackend).readSync(t.dataId) as Float32Array);
}

/** The batch's cache rows [B] and new positions [B, T]. */
function placement(backend: unknown, inputs: tf.NamedTensorInfoMap): { rows: ArrayLike<number>; positions: ArrayLike<number>; T: number } {
  const { rows, positions } = inputs as { rows: tf.TensorInfo; positions: tf.TensorInfo };
  const read = (t: tf.TensorInfo) => (backend as ReadableBackend).readSync(t.dataId);
  return { rows: read(rows), positions: read(positions), T: positions.shape[1]! };
}

/**
 * Copy Dh values from src[from …] to dst[to …], rotated by RoPE at position p when tables are given
 * (HF's rotate-half: channel d pairs with d ± Dh/2).
 */
function rotated(dst: Float32Array, to: number, src: Float32Array, from: number, Dh: number, p: number, tables?: Float32Array[]): void {
  if (!tables) return dst.set(src.subarray(from, from + Dh), to);
  const [cos, sin] = tables as [Float32Array, Float32Array];
  const half = Dh / 2;
  for (let d = 0; d < Dh; d++) {
    const pair = d < half ? -src[from + d + half]! : src[from + d - half]!;
    dst[to + d] = src[from + d]! * cos[p * Dh + d]! + pair * sin[p * Dh + d]!;
  }
}

/** cache [R, K, C, Dh][rows[b], k, positions[b, t], :] = update [B, T, K, Dh][b, t, k, :] (rotated if cos/sin given), in place. */
const write = (backendName: BackendName) => ({ inputs, backend }: KernelArgs): tf.TensorInfo[] => {
  const { cache, update, cos, sin } = inputs as Record<string, tf.TensorInfo | undefined>;
  const { rows, positions, T } = placement(backend, inputs);
  const [, K, C, Dh] = cache!.shape as number[];
  const [cacheValues, updateValues, ...tables] = floats(backendName, backend, cos && sin ? [cache!, update!, cos, sin] : [cache!, update!]);
  for (let b = 0; b < rows.length; b++) {
    for (let t = 0; t < T; t++) {
      const p = positions[b * T + t]!;
      for (let k = 0; k < K!; k++) rotated(cacheValues!, ((rows[b]! * K! + k) * C! + p) * Dh!, updateValues!, ((b * T + t) * K! + k) * Dh!, Dh!, p, tables.length ? tables : undefined);
    }
  }
  return [];
};

/** out [B, T, H, Dh]: each query, rotated at its position, over its row's slots 0 … its position. */
const attend = (backendName: BackendName) => ({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo => {
  const { q, keys, values, cos, sin } = inputs as Record<string, tf.TensorInfo>;
  const { rows, positions, T } = placement(backend, inputs);
  const scale = (attrs as { scale: number }).scale;
  const [B, , H, Dh] = q!.shape as number[];
  const [, K, C] = keys!.shape as number[];
  const [qv, kv, vv, ...tables] = floats(backendName, backend, [q!, keys!, values!, cos!, sin!]);
  const out = new Float32Array(B! * T * H! * Dh!);
  const query = new Float32Array(Dh!);
  const weights = new Float32Array(C!);
  for (let b = 0; b < B!; b++) {
    for (let t = 0; t < T; t++) {
      const last = positions[b * T + t]!;
      for (let h = 0; h < H!; h++) {
        const at = ((b * T + t) * H! + h) * Dh!;
        rotated(query, 0, qv!, at, Dh!, last, tables);
        const base = (rows[b]! * K! + Math.floor(h / (H! / K!))) * C! * Dh!; // slot 0 of this row's K/V head
        let max = -Infinity;
        for (let s = 0; s <= last; s++) {
          let dot = 0;
          for (let d = 0; d < Dh!; d++) dot += query[d]! * kv![base + s * Dh! + d]!;
          weights[s] = dot * scale;
          if (weights[s]! > max) max = weights[s]!;
        }
        let sum = 0;
        for (let s = 0; s <= last; s++) sum += weights[s] = Math.exp(weights[s]! - max);
        for (let s = 0; s <= last; s++) {
          const w = weights[s]! / sum;
          for (let d = 0; d < Dh!; d++) out[at + d]! += w * vv![base + s * Dh! + d]!;
        }
      }
    }
  }
  return MAKE_OUTPUT[backendName](backend, [B!, T, H!, Dh!], 'float32', out);
};

/** This family's kernels on `backendName` (cpu or wasm), by name; lib/backend/init.ts registers them. */
export const kvCacheKernels = (backendName: BackendName): [string, tf.KernelFunc][] => [
  [KV_CACHE.write, write(backendName)],
  [KV_CACHE.attend, attend(backendName)],
];
