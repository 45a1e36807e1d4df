// Choosing the next token from logits, and generating a continuation with the KV cache.
// (Streaming generation and the server build on this later.)
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../model/model.js';
import { Rng } from '../rng.js';

/** How to pick a token. */
export interface SampleOptions {
  /** 0 picks the most likely token (greedy); higher flattens the distribution. Default 1. */
  temperature?: number;
  /** Only the k most likely tokens can be picked (0 or absent: all). */
  topK?: number;
}

/** Pick a token id from logits [V] (plain numbers, on the CPU). */
export function sampleToken(logits: ArrayLike<number>, options: SampleOptions, rng: Rng): number {
  const temperature = options.temperature ?? 1;
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  if (temperature <= 0) return best;
  let candidates = Array.from({ length: logits.length }, (_, i) => i);
  if (options.topK && options.topK < logits.length) {
    candidates = candidates.sort((a, b) => logits[b]! - logits[a]!).slice(0, options.topK);
  }
  // Softmax of logits / temperature over the candidates, shifted by the maximum for stability.
  const weights = candidates.map((i) => Math.exp((logits[i]! - logits[best]!) / temperature));
  let r = rng.next() * weights.reduce((a, b) => a + b, 0);
  for (let j = 0; j < candidates.length; j++) {
    r -= weights[j]!;
    if (r < 0) return candidates[j]!;
  }
  return candidates[candidates.length - 1]!;
}

/** Options of generate(). */
export interface GenerateOptions extends SampleOptions {
  maxNewTokens: number;
  /** Stop after producing any of these ids (e.g. <|im_end|>); the stop id is included. */
  stopIds?: number[];
  seed?: number;
}

/** Continue `prompt` (ids) one token at a time with the KV cache; returns the new ids. */
export function generate(model: LlamaModel, prompt: number[], options: GenerateOptions): number[] {
  if (prompt.length === 0) throw new Error('generate: empty prompt, expected at least one id');
  if (prompt.length + options.maxNewTokens > model.config.maxSeq) {
    throw new Error(`generate: ${prompt.length} prompt + ${options.maxNewTokens} new tokens exceed maxSeq ${model.config.maxSeq}`);
  }
  const rng = new Rng(options.seed ?? 0);
  const cache = model.newCache();
  const out: number[] = [];
  try {
    let input = prompt;
    for (let step = 0; step < options.maxNewTokens; step++) {
      // Only the new positions go through the model; the cache holds the keys and values of the rest.
      const last = tf.tidy(() => {
        const { logits } = model.forward(tf.tensor2d([input], [1, input.length], 'int32'), { cache });
        return logits.slice([0, input.length - 1, 0], [1, 1, -1]).dataSync(); // [V]
      });
      const id = sampleToken(last, options, rng);
      out.push(id);
      if (options.stopIds?.includes(id)) break;
      input = [id];
    }
  } finally {
    cache.dispose();
  }
  return out;
}
