// Causal multi-head self-attention with grouped key/value heads (GQA), and with a KV cache for decoding.
// Each of H query heads attends over all earlier positions; the K/V heads are fewer (kvHeads) and each
// serves H / kvHeads consecutive query heads, as in Hugging Face's repeat_kv.
import * as tf from '@tensorflow/tfjs';
import { FUSED, fusedAttentionHeadDim, hasFused, runFused } from './fused.js';
import { type Linear, projectAll } from './linear.js';
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

/** The heads first: [B, T, n, Dh] -> [B, n, T, Dh] (and back: the same permutation). */
const swapHeads = (x: tf.Tensor): tf.Tensor4D => tf.transpose(x, [0, 2, 1, 3]) as tf.Tensor4D;

/** Causal attention in plain ops of q [B, T, H, Dh], k and v [B, T, K, Dh] (RoPE not yet applied): [B, T, H, Dh]. */
function plainAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, rope: RopeTables): tf.Tensor4D {
  const [B, T, H, Dh] = q.shape;
  const K = k.shape[2];
  const qh = applyRope(swapHeads(q), rope, 0); // [B, H, T, Dh]
  const kh = applyRope(swapHeads(k), rope, 0); // [B, K, T, Dh]
  // Query head h reads K/V head floor(h / (H/K)): the H/K query heads of a group are consecutive, so
  // [B, H, T, ·] viewed as [B, K, (H/K)·T, ·] lines each group up with its K/V head, and one batched
  // product per K/V head serves them all, without copying K and V H/K times.
  const grouped = (x: tf.Tensor) => tf.reshape(x, [B, K, (H / K) * T, x.shape[3]!]);
  const scores = tf.reshape(tf.matMul(grouped(qh), kh, false, true), [B, H, T, T]); // [B, H, T, T]
  const weights = hasFused(FUSED.causalSoftmax)
    ? runFused(FUSED.causalSoftmax, { scores }, { scale: 1 / Math.sqrt(Dh), offset: 0 }) // [B, H, T, T]
    : tf.softmax(tf.add(tf.mul(scores, 1 / Math.sqrt(Dh)), causalMask(T)), -1);
  return swapHeads(tf.reshape(tf.matMul(grouped(weights), swapHeads(v)), [B, H, T, Dh])); // [B, T, H, Dh]
}

/**
 * Causal self-attention of x [B, T, D]: returns [B, T, D]. With a cache, this pass's keys and values
 * are written into it; a prompt (every row starting at 0) then attends as without one, later positions
 * read the cache (cachedAttention).
 */
export function attention(x: tf.Tensor3D, w: AttentionWeights, opts: AttentionOptions): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T] = x.shape;
    const { heads: H, kvHeads: K, cache, rope } = opts;
    const Dh = w.q.outFeatures / H;
    // The projections' own layout, [B, T, heads, Dh], which the fused kernels take as it is.
    const [q, k, v] = projectAll(x, [w.q, w.k, w.v]).map((y, i) => tf.reshape(y, [B, T, i === 0 ? H : K, Dh]) as tf.Tensor4D);
    if (cache) cache.store.write(cache.layer, k, v, cache.placement, rope); // (the kernel rotates the keys)
    let out: tf.Tensor4D; // [B, T, H, Dh]
    if (cache && cache.placement.start !== 0) {
      out = cachedAttention(q, cache.store, cache.layer, cache.placement, rope);
    } else if (hasFused(FUSED.attention) && fusedAttentionHeadDim(Dh)) {
      // One kernel from the projections to the heads' outputs: RoPE, scores, softmax and the weighted
      // sum, tile by tile.
      out = runFused(FUSED.attention, { q, k, v, cos: rope.cos, sin: rope.sin });
    } else {
      out = plainAttention(q, k, v, rope);
    }
    return w.o.apply(tf.reshape(out, [B, T, H * Dh])) as tf.Tensor3D;
  });
}
