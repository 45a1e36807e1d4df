// The KV cache: keys and values of the positions a sequence has already seen, kept so that decoding a
// new token runs the model on that token alone. It is allocated once, at its full size — per layer a
// [rows, kvHeads, capacity, Dh] tensor for keys and one for values — and every step writes its keys and
// values into their slots in place (KV_CACHE.write), so no step copies what earlier steps stored.
//
//   cache row 0   a₀ a₁ a₂ a₃ a₄ ·  ·  ·      (a sequence of 5 positions)
//   cache row 1   b₀ b₁ ·  ·  ·  ·  ·  ·      (another of 2, decoded in the same batch)
//
// Position p of a row sits in slot p, so a row needs no padding however long the others are; attention
// of a new position reads its row's slots up to its own (KV_CACHE.attend). Both kernels take the
// projections' own layout [B, T, heads, Dh] and apply RoPE at each row's positions themselves, so a
// decoding step's attention is two kernels and no transposes. The lengths live on the host.
import * as tf from '@tensorflow/tfjs';
import { fusedKernel, KV_CACHE } from './fused.js';
import type { RopeTables } from './rope.js';

/** The size of a cache: how many sequences (rows), positions per row, and the attention's K/V shape. */
export interface KvCacheShape {
  layers: number;
  rows: number;
  capacity: number;
  kvHeads: number;
  headDim: number;
}

/** Where a forward pass's positions go: cache rows [B] and each new position [B, T] (int32). */
export interface KvPlacement {
  rows: tf.Tensor1D;
  positions: tf.Tensor2D;
  /** The first new position when every row has the same (one sequence, or prompts), else null. */
  start: number | null;
}

export class KvCache {
  readonly keys: tf.Tensor4D[]; // per layer [rows, kvHeads, capacity, Dh]
  readonly values: tf.Tensor4D[];
  /** Positions held by each row. */
  readonly lengths: Int32Array;

  constructor(readonly shape: KvCacheShape) {
    const { layers, rows, capacity, kvHeads, headDim } = shape;
    for (const [field, value] of Object.entries(shape)) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`KvCache: ${field} must be a positive integer, got ${value}`);
    }
    if (!fusedKernel(KV_CACHE.write)) throw new Error(`KvCache: the ${tf.getBackend()} backend has no ${KV_CACHE.write} kernel`);
    const make = () => Array.from({ length: layers }, () => tf.keep(tf.zeros([rows, kvHeads, capacity, headDim])) as tf.Tensor4D);
    this.keys = make();
    this.values = make();
    this.lengths = new Int32Array(rows);
  }

  /** Positions held by row 0 (the length of a single sequence's cache). */
  get length(): number {
    return this.lengths[0]!;
  }

  /**
   * Where T new positions of the batch rows `rows` (cache rows, distinct) go: after what each row holds.
   * Call inside a tf.tidy; advance() once the pass has written them.
   */
  place(rows: readonly number[], T: number): KvPlacement {
    if (new Set(rows).size !== rows.length) throw new Error(`KvCache: cache rows [${rows}] repeat`);
    for (const r of rows) {
      if (!(Number.isInteger(r) && r >= 0 && r < this.shape.rows)) throw new Error(`KvCache: row ${r} is outside the cache's ${this.shape.rows} rows`);
      if (this.lengths[r]! + T > this.shape.capacity) {
        throw new Error(`KvCache: row ${r} holds ${this.lengths[r]} positions; ${T} more exceed its capacity of ${this.shape.capacity}`);
      }
    }
    const positions = rows.flatMap((r) => Array.from({ length: T }, (_, t) => this.lengths[r]! + t));
    const start = this.lengths[rows[0]!]!;
    return {
      rows: tf.tensor1d(rows as number[], 'int32'),
      positions: tf.tensor2d(positions, [rows.length, T], 'int32'),
      start: rows.every((r) => this.lengths[r] === start) ? start : null,
    };
  }

  /** Record that T positions were written to each of `rows`. */
  advance(rows: readonly number[], T: number): void {
    for (const r of rows) this.lengths[r]! += T;
  }

  /**
   * Write a pass's keys and values [B, T, kvHeads, Dh] of `layer` into their slots, in place; the keys
   * rotated by RoPE at their positions on the way (the values are not).
   */
  write(layer: number, keys: tf.Tensor4D, values: tf.Tensor4D, placement: KvPlacement, rope: RopeTables): void {
    const write = fusedKernel(KV_CACHE.write)!;
    const where = { rows: placement.rows, positions: placement.positions };
    write({ inputs: { cache: this.keys[layer]!, update: keys, ...where, cos: rope.cos, sin: rope.sin }, backend: tf.backend(), attrs: {} });
    write({ inputs: { cache: this.values[layer]!, update: values, ...where }, backend: tf.backend(), attrs: {} });
  }

  /** Forget what row r holds (a finished sequence's row, for the next one). */
  clear(row: number): void {
    this.lengths[row] = 0;
  }

  /** Free the tensors. */
  dispose(): void {
    tf.dispose([...this.keys, ...this.values]);
    this.keys.length = 0;
    this.values.length = 0;
  }
}

/**
 * Attention of new positions' queries q [B, T, H, Dh] (RoPE not yet applied: the kernel rotates them at
 * their positions) over their cache rows' slots 0 … position, this pass's keys and values already
 * written: [B, T, H, Dh]. Query head h reads K/V head h / (H/K).
 */
export function cachedAttention(q: tf.Tensor4D, cache: KvCache, layer: number, placement: KvPlacement, rope: RopeTables): tf.Tensor4D {
  return tf.engine().runKernel(KV_CACHE.attend, {
    q, keys: cache.keys[layer]!, values: cache.values[layer]!, rows: placement.rows, positions: placement.positions, cos: rope.cos, sin: rope.sin,
  }, { scale: 1 / Math.sqrt(q.shape[3]) }) as tf.Tensor4D;
}
