// Exercises 09: LoRA's forward pass, merging, and what it trains, on plain numbers (matrices are
// row-major number[][]). Run `npm run check -- 09`.
import type { ModelConfig } from '../lib/model/config.js';

/** y = x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ for x [N, in], W [out, in], A [r, in], B [out, r] (r = A.length): y [N, out]. */
export function loraForward(x: number[][], w: number[][], a: number[][], b: number[][], alpha: number): number[][] {
  throw new Error('TODO: loraForward — base = x·Wᵀ; update = (x·Aᵀ)·Bᵀ (never form B·A); y = base + (alpha / A.length)·update');
}

/** The merged weight W' = W + (α/r)·B·A [out, in], so that x·W'ᵀ is the adapted layer's output. */
export function mergeLora(w: number[][], a: number[][], b: number[][], alpha: number): number[][] {
  throw new Error('TODO: mergeLora — W\'[i][j] = W[i][j] + (alpha / A.length)·Σ_k B[i][k]·A[k][j]');
}

/** The shape of a model (the fields of lib/model/config.ts's ModelConfig that the counts need). */
export type Shape = Pick<ModelConfig, 'vocabSize' | 'hidden' | 'ffn' | 'layers' | 'heads' | 'kvHeads' | 'tieEmbeddings' | 'moe'>;

/**
 * Parameters that train: LoRA of `rank` on the projections named in `targets` (peft's module names:
 * 'q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj') vs full fine-tuning (all of them).
 */
export function trainableParameters(s: Shape, rank: number, targets: readonly string[]): { lora: number; full: number } {
  throw new Error('TODO: trainableParameters — a projection [out, in] adds rank·(in + out) per layer (k and v: out = kvHeads·hidden/heads; with MoE the MLP projections come experts + sharedExperts times); full counts every parameter as exercise 06 did, plus MoE experts and router (experts·hidden)');
}
