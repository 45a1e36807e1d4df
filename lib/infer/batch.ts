// Generating for several prompts at once: one forward pass per step serves every row, so the weights
// are read once per step instead of once per prompt (what makes batched decoding fast, on a GPU above
// all). Prompts of different lengths are left-padded to a common length P:
//
//   cache slot   0    1    2    3  | 4 …
//   row 0        pad  pad  a₀   a₁ | new tokens
//   row 1        b₀   b₁   b₂   b₃ | new tokens
//
// Every row's next token then goes into the same cache slot, the padding slots are masked out of
// attention, and RoPE gets each row's own positions (slot − its padding), so each row computes what it
// would alone — the tests check batched output against generate() prompt by prompt.
import * as tf from '@tensorflow/tfjs';
import { MASKED } from '../model/attention.js';
import type { LlamaModel } from '../model/model.js';
import { Rng } from '../rng.js';
import { checkSamplingOptions, type GenerateOptions, sampleToken } from './sampling.js';

/**
 * Continue each prompt as generate() would (the same options, the same seed for every row); returns the
 * new ids of each row, a stop id included. onToken is not called (rows finish at different steps).
 */
export function generateBatch(model: LlamaModel, prompts: readonly (readonly number[])[], options: GenerateOptions): number[][] {
  checkSamplingOptions(options);
  const B = prompts.length;
  prompts.forEach((p, b) => {
    if (p.length === 0) throw new Error(`generateBatch: prompt ${b} is empty, expected at least one id`);
    if (p.length + options.maxNewTokens > model.config.maxSeq) {
      throw new Error(`generateBatch: prompt ${b}: ${p.length} prompt + ${options.maxNewTokens} new tokens exceed maxSeq ${model.config.maxSeq}`);
    }
  });
  const P = Math.max(...prompts.map((p) => p.length));
  const pads = prompts.map((p) => P - p.length);
  const rngs = prompts.map(() => new Rng(options.seed ?? 0));
  const seen = prompts.map((p) => new Set(p));
  const out: number[][] = prompts.map(() => []);
  const done = prompts.map(() => options.maxNewTokens === 0);
  const cache = model.newCache();
  try {
    // Prefill: the padded prompts, positions max(0, slot − pad) (a padding slot's position does not matter).
    let ids = prompts.flatMap((p, b) => [...new Array<number>(pads[b]!).fill(0), ...p]);
    let positions = pads.flatMap((pad) => Array.from({ length: P }, (_, s) => Math.max(0, s - pad)));
    let T = P;
    for (let step = 0; step < options.maxNewTokens && !done.every(Boolean); step++) {
      const S = P + step; // slots after this step's tokens: cached + new
      const last = tf.tidy(() => {
        // Additive mask [B, 1, 1, S]: −1e9 on each row's padding slots, broadcast over heads and queries.
        const mask = tf.tensor4d(pads.flatMap((pad) => Array.from({ length: S }, (_, s) => (s < pad ? MASKED : 0))), [B, 1, 1, S]);
        const { logits } = model.forward(tf.tensor2d(ids, [B, T], 'int32'), { cache, mask, positions: tf.tensor2d(positions, [B, T], 'int32') });
        return logits.slice([0, T - 1, 0], [B, 1, -1]).reshape([B, -1]).arraySync() as number[][]; // [B, V]
      });
      for (let b = 0; b < B; b++) {
        if (done[b]) continue;
        const id = sampleToken(last[b]!, options, rngs[b]!, seen[b]!, out[b]!);
        out[b]!.push(id);
        seen[b]!.add(id);
        if (options.stopIds?.includes(id) || out[b]!.length >= options.maxNewTokens) done[b] = true;
      }
      // Next: one token per row (a finished row repeats its last id; what it computes is ignored).
      ids = out.map((o, b) => o.at(-1) ?? prompts[b]!.at(-1)!);
      positions = prompts.map((p) => p.length + step);
      T = 1;
    }
  } finally {
    cache.dispose();
  }
  return out;
}
