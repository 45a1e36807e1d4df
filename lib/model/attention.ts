// Causal multi-head self-attention with grouped key/value heads (GQA) and a KV cache.
// Each of H query heads attends over all earlier positions; the K/V heads are fewer (kvHeads) and each
// serves H / kvHeads consecutive query heads, as in Hugging Face's repeat_kv.
import * as tf from '@tensorflow/tfjs';
import { FUSED, fusedAttentionHeadDim, hasFused, runFused } from './fused.js';
import type { Linear } from './linear.js';
import { applyRope, type RopeTables } from './rope.js';

/** The projections of one attention layer (out ← in). */
export interface AttentionWeights {
  q: Linear; // H·Dh ← D
  k: Linear; // Hkv·Dh ← D
  v: Linear; // Hkv·Dh ← D
  o: Linear; // D ← H·Dh
}

/** Keys and values of earlier positions for incremental decoding, per layer: [B, Hkv, S, Dh]. */
export class KvCache {
  readonly keys: (tf.Tensor4D | null)[];
  readonly values: (tf.Tensor4D | null)[];

  constructor(layers: number) {
    this.keys = new Array(layers).fill(null);
    this.values = new Array(layers).fill(null);
  }

  /** Positions already cached. */
  get length(): number {
    return this.keys[0]?.shape[2] ?? 0;
  }

  /** Append this step's keys and values for `layer`; returns the full [B, Hkv, S, Dh] tensors. */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    const past = [this.keys[layer], this.values[layer]] as const;
    // The cache outlives the tf.tidy of the step that computed it: keep() it, dispose what it replaces.
    const [keys, values] = [k, v].map((t, i) => tf.keep(past[i] ? tf.concat([past[i]!, t], 2) : t.clone())) as [tf.Tensor4D, tf.Tensor4D];
    past.forEach((t) => t?.dispose());
    this.keys[layer] = keys;
    this.values[layer] = values;
    return [keys, values];
  }

  /** Rows in the cache (the batch size), 0 while empty. */
  get rows(): number {
    return this.keys[0]?.shape[0] ?? 0;
  }

  /** Apply f to every cached tensor, replacing it (the batch decoder's row and slot edits). */
  private map(f: (t: tf.Tensor4D) => tf.Tensor4D): void {
    for (const list of [this.keys, this.values]) {
      list.forEach((t, layer) => {
        if (!t) return;
        list[layer] = tf.keep(tf.tidy(() => f(t)));
        t.dispose();
      });
    }
  }

  /** Insert `slots` empty slots before the first (left padding: the rows' own slots move right). */
  padFront(slots: number): void {
    if (slots > 0) this.map((t) => tf.pad(t, [[0, 0], [0, 0], [slots, 0], [0, 0]]));
  }

  /** Append the rows of another cache with as many slots (it is emptied). */
  concatRows(other: KvCache): void {
    if (this.rows > 0 && other.length !== this.length) throw new Error(`KvCache: rows of ${other.length} slots joined to rows of ${this.length}`);
    for (const [mine, theirs] of [[this.keys, other.keys], [this.values, other.values]] as const) {
      mine.forEach((t, layer) => {
        const added = theirs[layer]!;
        mine[layer] = t ? tf.keep(tf.concat([t, added], 0)) : added;
        if (t) tf.dispose([t, added]);
      });
      theirs.fill(null);
    }
  }

  /** Drop the first `slots` slots of every row (padding no row needs any more). */
  keepSlotsFrom(slots: number): void {
    if (slots > 0) this.map((t) => tf.slice(t, [0, 0, slots, 0], [-1, -1, -1, -1]));
  }

  /** Keep only these rows, in this order. */
  keepRows(rows: number[]): void {
    if (rows.length === 0) return this.dispose();
    this.map((t) => tf.gather(t, rows, 0));
  }

  /** Free all cached tensors. */
  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
  }
}

/** Attention options: where the chunk starts and what else to mask. */
export interface AttentionOptions {
  heads: number;
  kvHeads: number;
  rope: RopeTables;
  /** Position of the first query: the number of positions already in the cache (0 without one). */
  offset: number;
  /** The cache to read earlier positions from and append to (decoding). */
  cache?: { store: KvCache; layer: number };
  /** Added to the scores [B or 1, 1, T, S] (e.g. −1e9 at padding); the causal mask is always applied. */
  mask?: tf.Tensor;
  /** RoPE positions per row [B, T] (int32) when rows do not start at `offset` (left-padded batches). */
  positions?: tf.Tensor2D;
}

/** A large negative score: exp() of it is 0 in float32 and it never turns into NaN as −∞ can. */
export const MASKED = -1e9;

/** Additive causal mask [T, S] for T queries at positions offset … offset+T−1 over S = offset+T keys. */
export function causalMask(T: number, offset: number): tf.Tensor2D {
  return tf.tidy(() => {
    const queryPos = tf.reshape(tf.range(offset, offset + T, 1, 'int32'), [T, 1]);
    const keyPos = tf.reshape(tf.range(0, offset + T, 1, 'int32'), [1, offset + T]);
    const shape: [number, number] = [T, offset + T];
    return tf.where(tf.greater(keyPos, queryPos), tf.fill(shape, MASKED), tf.zeros(shape));
  });
}

/** Split the last axis into heads: [B, T, n·Dh] -> [B, n, T, Dh]. */
function toHeads(x: tf.Tensor, n: number): tf.Tensor4D {
  const [B, T, width] = x.shape as [number, number, number];
  return tf.transpose(tf.reshape(x, [B, T, n, width / n]), [0, 2, 1, 3]);
}

/** Scores q·kᵀ [B, H, T, S] scaled by 1/√Dh, with the causal mask and any extra mask added. */
function maskedScores(scores: tf.Tensor, Dh: number, T: number, offset: number, mask?: tf.Tensor): tf.Tensor {
  const masked = tf.add(tf.mul(scores, 1 / Math.sqrt(Dh)), causalMask(T, offset)); // [B, H, T, S]
  return mask ? tf.add(masked, mask) : masked;
}

/** Causal self-attention of x [B, T, D]: returns [B, T, D]. */
export function attention(x: tf.Tensor3D, w: AttentionWeights, opts: AttentionOptions): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T] = x.shape;
    const { heads: H, kvHeads: K } = opts;
    const { offset } = opts;
    const Dh = w.q.outFeatures / H;
    if (hasFused(FUSED.attention) && !opts.mask && !opts.cache && !opts.positions && offset === 0 && fusedAttentionHeadDim(Dh)) {
      // One kernel from the projections to the heads' outputs: RoPE, scores, softmax and the weighted
      // sum, tile by tile, in the [B, T, heads, Dh] layout the projections already have.
      const [q, k, v] = ([[w.q, H], [w.k, K], [w.v, K]] as const).map(([proj, n]) => tf.reshape(proj.apply(x), [B, T, n, Dh]));
      const out = runFused(FUSED.attention, { q: q!, k: k!, v: v!, cos: opts.rope.cos, sin: opts.rope.sin }); // [B, T, H, Dh]
      return w.o.apply(tf.reshape(out, [B, T, H * Dh])) as tf.Tensor3D;
    }
    const q = applyRope(toHeads(w.q.apply(x), H), opts.rope, offset, opts.positions); // [B, H, T, Dh]
    let k = applyRope(toHeads(w.k.apply(x), K), opts.rope, offset, opts.positions) as tf.Tensor4D; // [B, K, T, Dh]
    let v = toHeads(w.v.apply(x), K); // [B, K, T, Dh]
    if (opts.cache) [k, v] = opts.cache.store.append(opts.cache.layer, k, v); // [B, K, S, Dh]
    const S = k.shape[2];
    // Query head h reads K/V head floor(h / (H/K)): the H/K query heads of a group are consecutive, so
    // [B, H, T, ·] viewed as [B, K, (H/K)·T, ·] lines each group up with its K/V head, and one batched
    // product per K/V head serves them all, without copying K and V H/K times.
    const grouped = (x: tf.Tensor, rows: number) => tf.reshape(x, [B, K, (H / K) * rows, x.shape[3]!]);
    const scores = tf.reshape(tf.matMul(grouped(q, T), k, false, true), [B, H, T, S]); // [B, H, T, S]
    const weights = hasFused(FUSED.causalSoftmax) && !opts.mask
      ? runFused(FUSED.causalSoftmax, { scores }, { scale: 1 / Math.sqrt(Dh), offset }) // [B, H, T, S]
      : tf.softmax(maskedScores(scores, Dh, T, offset, opts.mask), -1);
    const out = tf.reshape(tf.matMul(grouped(weights, T), v), [B, H, T, Dh]); // [B, H, T, Dh]
    const merged = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [B, T, H * Dh]); // [B, T, H·Dh]
    return w.o.apply(merged) as tf.Tensor3D;
  });
}
