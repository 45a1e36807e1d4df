// Exercises 06: counting a model and reading its predictions, on plain numbers. Run `npm run check -- 06`.
import type { ModelConfig } from '../lib/model/config.js';

/** The shape of a dense Llama-style model (the fields of lib/model/config.ts's ModelConfig it needs). */
export type Shape = Pick<ModelConfig, 'vocabSize' | 'hidden' | 'ffn' | 'layers' | 'heads' | 'kvHeads' | 'tieEmbeddings'>;

/**
 * Total parameters: embedding V·D (+ an LM head V·D unless tied); per layer the attention projections
 * (q and o: D·D each; k and v: D·(kvHeads·D/heads) each), the SwiGLU MLP (3·D·F) and two RMSNorm
 * weights (2·D); and the final norm (D).
 */
export function countParameters(s: Shape): number {
  throw new Error('TODO: countParameters — add up the embedding, head, per-layer attention + MLP + norms, and the final norm');
}

/** Cross-entropy −log softmax(logits)[target], computed stably (subtract the largest logit first). */
export function crossEntropy(logits: number[], target: number): number {
  throw new Error('TODO: crossEntropy — m = max(logits); return m + log(Σ exp(l − m)) − logits[target]');
}

/** Perplexity of per-token log-probabilities: exp(−mean). */
export function perplexity(logprobs: number[]): number {
  throw new Error('TODO: perplexity — Math.exp(−(sum / count))');
}
