// Causal multi-head self-attention with grouped key/value heads (GQA), and with a KV cache for decoding.
// Each of H query heads attends over all earlier positions; the K/V heads are fewer (kvHeads) and each
// serves H / kvHeads consecutive query heads, as in Hugging Face's repeat_kv.
import * as tf from '@tensorflow/tfjs';
import { FUSED, fusedAttentionHeadDim, hasFused, runFused } from './fused.js';
import type { Linear } from './linear.js';
import { cachedAttention, type KvCache, type KvPlacement } from './kv-cache.js';
import { applyRope, type RopeTables } from './rope.js';

/** The projections of one attention layer (out ← in). */
export interface AttentionWeights {
  q: Linear; // H·Dh ← D
  k: Linear; // Hkv·Dh ← D
  v: Linear; // Hkv·Dh ← D
  o: Linear; // D ← H·Dh
}

/** Attention options: the head counts, the RoPE tables, and the KV cache when decoding. */
export interface AttentionOptions {
  heads: number;
  kvHeads: number;
  rope: RopeTables;
  /** Decoding: where this pass's keys and values go in the cache (and earlier ones are read from). */
  cache?: { store: KvCache; layer: number; placement: KvPlacement };
}

/** A large negative score: exp() of it is 0 in float32 and it never turns into NaN as −∞ can. */
export const MASKED = -1e9;

/** Additive causal mask [T, T]: query t sees keys 0 … t (MASKED on the later ones). */
export function causalMask(T: number): tf.Tensor2D {
  return tf.tidy(() => {
    const queryPos = tf.reshape(tf.range(0, T, 1, 'int32'), [T, 1]);
    const keyPos = tf.reshape(tf.range(0, T, 1, 'int32'), [1, T]);
    return tf.where(tf.greater(keyPos, queryPos), tf.fill([T, T], MASKED), tf.zeros([T, T]));
  });
}

/** Split the last axis into heads: [B, T, n·Dh] -> [B, n, T, Dh]. */
function toHeads(x: tf.Tensor, n: number): tf.Tensor4D {
  const [B, T, width] = x.shape as [number, number, number];
  return tf.transpose(tf.reshape(x, [B, T, n, width / n]), [0, 2, 1, 3]);
}


/** Causal self-attention of x [B, T, D]: returns [B, T, D]. */
export function attention(x: tf.Tensor3D, w: AttentionWeights, opts: AttentionOptions): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T] = x.shape;
    const { heads: H, kvHeads: K, cache } = opts;
    const Dh = w.q.outFeatures / H;
    if (cache && cache.placement.start !== 0) {
      // Decoding: the new positions' keys and values join the cache, and the queries read it there.
      // RoPE by one offset when every row is at the same position, else by each row's own positions.
      const { start, positions } = cache.placement;
      const rope = (t: tf.Tensor) => applyRope(t, opts.rope, start ?? 0, start === null ? positions : undefined) as tf.Tensor4D;
      const q = rope(toHeads(w.q.apply(x), H)); // [B, H, T, Dh]
      const k = rope(toHeads(w.k.apply(x), K)); // [B, K, T, Dh]
      cache.store.write(cache.layer, k, toHeads(w.v.apply(x), K), cache.placement);
      const out = cachedAttention(q, cache.store, cache.layer, cache.placement); // [B, H, T, Dh]
      return w.o.apply(tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [B, T, H * Dh])) as tf.Tensor3D;
    }
    if (hasFused(FUSED.attention) && !cache && fusedAttentionHeadDim(Dh)) {
      // One kernel from the projections to the heads' outputs: RoPE, scores, softmax and the weighted
      // sum, tile by tile, in the [B, T, heads, Dh] layout the projections already have.
      const [q, k, v] = ([[w.q, H], [w.k, K], [w.v, K]] as const).map(([proj, n]) => tf.reshape(proj.apply(x), [B, T, n, Dh]));
      const out = runFused(FUSED.attention, { q: q!, k: k!, v: v!, cos: opts.rope.cos, sin: opts.rope.sin }); // [B, T, H, Dh]
      return w.o.apply(tf.reshape(out, [B, T, H * Dh])) as tf.Tensor3D;
    }
    const q = applyRope(toHeads(w.q.apply(x), H), opts.rope, 0); // [B, H, T, Dh]
    const k = applyRope(toHeads(w.k.apply(x), K), opts.rope, 0) as tf.Tensor4D; // [B, K, T, Dh]
    const v = toHeads(w.v.apply(x), K); // [B, K, T, Dh]
    if (cache) cache.store.write(cache.layer, k, v, cache.placement); // a prompt: its keys and values start the cache
    // Query head h reads K/V head floor(h / (H/K)): the H/K query heads of a group are consecutive, so
    // [B, H, T, ·] viewed as [B, K, (H/K)·T, ·] lines each group up with its K/V head, and one batched
    // product per K/V head serves them all, without copying K and V H/K times.
    const grouped = (x: tf.Tensor, rows: number) => tf.reshape(x, [B, K, (H / K) * rows, x.shape[3]!]);
    const scores = tf.reshape(tf.matMul(grouped(q, T), k, false, true), [B, H, T, T]); // [B, H, T, T]
    const weights = hasFused(FUSED.causalSoftmax)
      ? runFused(FUSED.causalSoftmax, { scores }, { scale: 1 / Math.sqrt(Dh), offset: 0 }) // [B, H, T, T]
      : tf.softmax(tf.add(tf.mul(scores, 1 / Math.sqrt(Dh)), causalMask(T)), -1);
    const out = tf.reshape(tf.matMul(grouped(weights, T), v), [B, H, T, Dh]); // [B, H, T, Dh]
    const merged = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [B, T, H * Dh]); // [B, T, H·Dh]
    return w.o.apply(merged) as tf.Tensor3D;
  });
}
