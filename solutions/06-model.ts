// Solutions 06: counting a model and reading its predictions, on plain numbers.
import type { ModelConfig } from '../lib/model/config.js';

/** The shape of a dense Llama-style model (the fields of lib/model/config.ts's ModelConfig it needs). */
export type Shape = Pick<ModelConfig, 'vocabSize' | 'hidden' | 'ffn' | 'layers' | 'heads' | 'kvHeads' | 'tieEmbeddings'>;

/** Total parameters of a dense Llama-style model. */
export function countParameters(s: Shape): number {
  const D = s.hidden;
  const kv = (s.kvHeads * D) / s.heads;
  const perLayer = 2 * D * D + 2 * D * kv + 3 * D * s.ffn + 2 * D;
  return s.vocabSize * D * (s.tieEmbeddings ? 1 : 2) + s.layers * perLayer + D;
}

/** Cross-entropy −log softmax(logits)[target], computed stably. */
export function crossEntropy(logits: number[], target: number): number {
  const m = Math.max(...logits);
  return m + Math.log(logits.reduce((sum, l) => sum + Math.exp(l - m), 0)) - logits[target]!;
}

/** Perplexity of per-token log-probabilities: exp(−mean). */
export function perplexity(logprobs: number[]): number {
  return Math.exp(-logprobs.reduce((a, b) => a + b, 0) / logprobs.length);
}
