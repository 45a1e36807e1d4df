// Solutions 09: LoRA's forward pass, merging, and what it trains, on plain numbers.
import type { ModelConfig } from '../lib/model/config.js';

/** x [N, in] times Wᵀ for W [out, in]: [N, out]. */
function timesTransposed(x: number[][], w: number[][]): number[][] {
  return x.map((row) => w.map((wRow) => wRow.reduce((s, v, k) => s + v * row[k]!, 0)));
}

/** y = x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ for x [N, in], W [out, in], A [r, in], B [out, r] (r = A.length): y [N, out]. */
export function loraForward(x: number[][], w: number[][], a: number[][], b: number[][], alpha: number): number[][] {
  const scale = alpha / a.length;
  const base = timesTransposed(x, w); // [N, out]
  const update = timesTransposed(timesTransposed(x, a), b); // [N, r] → [N, out]
  return base.map((row, i) => row.map((v, j) => v + scale * update[i]![j]!));
}

/** The merged weight W' = W + (α/r)·B·A [out, in], so that x·W'ᵀ is the adapted layer's output. */
export function mergeLora(w: number[][], a: number[][], b: number[][], alpha: number): number[][] {
  const scale = alpha / a.length;
  return w.map((row, i) => row.map((v, j) => v + scale * b[i]!.reduce((s, bik, k) => s + bik * a[k]![j]!, 0)));
}

/** The shape of a model (the fields of lib/model/config.ts's ModelConfig that the counts need). */
export type Shape = Pick<ModelConfig, 'vocabSize' | 'hidden' | 'ffn' | 'layers' | 'heads' | 'kvHeads' | 'tieEmbeddings' | 'moe'>;

/**
 * Parameters that train: LoRA of `rank` on the projections named in `targets` (peft's module names:
 * 'q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj') vs full fine-tuning (all of them).
 */
export function trainableParameters(s: Shape, rank: number, targets: readonly string[]): { lora: number; full: number } {
  const { vocabSize: V, hidden: D, ffn: F, layers: L } = s;
  const kv = (s.kvHeads * D) / s.heads; // K/V width: kvHeads × head width
  const mlps = s.moe ? s.moe.experts + s.moe.sharedExperts : 1; // MLPs per layer (the router is no target)
  // [out, in] of each projection, and how many of it one layer holds.
  const projections: Record<string, [number, number, number]> = {
    q_proj: [D, D, 1], k_proj: [kv, D, 1], v_proj: [kv, D, 1], o_proj: [D, D, 1],
    gate_proj: [F, D, mlps], up_proj: [F, D, mlps], down_proj: [D, F, mlps],
  };
  let lora = 0;
  let layer = 2 * D; // the two RMSNorm gains
  for (const [name, [out, inp, copies]] of Object.entries(projections)) {
    layer += copies * out * inp;
    if (targets.includes(name)) lora += copies * rank * (inp + out); // A [r, in] and B [out, r]
  }
  if (s.moe) layer += s.moe.experts * D; // the router
  const full = V * D * (s.tieEmbeddings ? 1 : 2) + L * layer + D; // embedding (+ head), layers, final norm
  return { lora: L * lora, full };
}
