// Choosing the next token from logits — repetition penalty, temperature, top-k, top-p, in Hugging Face's
// order — and generating a continuation with the KV cache, streaming each id as it is sampled.
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../model/model.js';
import { Rng } from '../rng.js';
import { ENDOFTEXT, IM_END } from '../tokenizer/special.js';
import { TextStream } from '../tokenizer/text-stream.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { checkSamplingOptions, type GenerateOptions, type SampleOptions } from './sampling-options.js';

export { checkSamplingOptions, SAMPLING_DEFAULTS, type GenerateOptions, type OptionNames, type SampleOptions } from './sampling-options.js';

/** Logits with Hugging Face's repetition penalty applied to each id in `seen` (repeats count once). */
export function applyRepetitionPenalty(logits: ArrayLike<number>, seen: Iterable<number>, penalty: number): Float64Array {
  const out = Float64Array.from(logits);
  if (penalty === 1) return out;
  for (const id of seen) {
    if (!(id >= 0 && id < logits.length)) throw new Error(`repetitionPenalty: seen id ${id} is outside the logits, expected an id < ${logits.length}`);
    const x = logits[id]!; // from the input, so an id seen twice is penalised once
    out[id] = x < 0 ? x * penalty : x / penalty;
  }
  return out;
}

// A sum of probabilities that equals p on paper can land a rounding error below it; this much slack
// keeps top-p = 0.8 over probabilities 0.5 + 0.3 at two tokens.
const TOP_P_SLACK = 1e-9;

/** Pick a token id from logits [V] (plain numbers, on the CPU); `seen` (prompt + generated ids) feeds the repetition penalty. */
export function sampleToken(logits: ArrayLike<number>, options: SampleOptions, rng: Rng, seen?: Iterable<number>): number {
  checkSamplingOptions(options);
  const temperature = options.temperature ?? 1;
  const penalty = options.repetitionPenalty ?? 1;
  const scores = penalty !== 1 && seen ? applyRepetitionPenalty(logits, seen, penalty) : logits;
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
  if (temperature === 0) return best;
  const topP = options.topP ?? 1;
  let candidates = Array.from({ length: scores.length }, (_, i) => i);
  if ((options.topK && options.topK < scores.length) || topP < 1) {
    candidates.sort((a, b) => scores[b]! - scores[a]!); // most likely first; ties keep id order
    if (options.topK) candidates = candidates.slice(0, options.topK);
  }
  // Softmax of scores / temperature over the candidates, shifted by the maximum for stability.
  let weights = candidates.map((i) => Math.exp((scores[i]! - scores[best]!) / temperature));
  let total = weights.reduce((a, b) => a + b, 0);
  if (topP < 1) {
    // The nucleus: the shortest prefix of the sorted candidates whose probability reaches topP.
    let kept = 0;
    let sum = 0;
    while (kept < weights.length && sum < (topP - TOP_P_SLACK) * total) sum += weights[kept++]!;
    candidates = candidates.slice(0, kept);
    weights = weights.slice(0, kept);
    total = sum;
  }
  let r = rng.next() * total;
  for (let j = 0; j < candidates.length; j++) {
    r -= weights[j]!;
    if (r < 0) return candidates[j]!;
  }
  return candidates[candidates.length - 1]!;
}

/** Continue `prompt` (ids) one token at a time with the KV cache; returns the new ids (onToken sees each as it comes). */
export function generate(model: LlamaModel, prompt: readonly number[], options: GenerateOptions): number[] {
  checkSamplingOptions(options);
  if (prompt.length === 0) throw new Error('generate: empty prompt, expected at least one id');
  if (prompt.length + options.maxNewTokens > model.config.maxSeq) {
    throw new Error(`generate: ${prompt.length} prompt + ${options.maxNewTokens} new tokens exceed maxSeq ${model.config.maxSeq}`);
  }
  const rng = new Rng(options.seed ?? 0);
  const seen = new Set(prompt); // what the repetition penalty applies to
  const cache = model.newCache();
  const out: number[] = [];
  try {
    let input: readonly number[] = prompt;
    for (let step = 0; step < options.maxNewTokens; step++) {
      // Only the new positions go through the model; the cache holds the keys and values of the rest.
      const last = tf.tidy(() => {
        const { logits } = model.forward(tf.tensor2d([input as number[]], [1, input.length], 'int32'), { cache });
        return logits.slice([0, input.length - 1, 0], [1, 1, -1]).dataSync(); // [V]
      });
      const id = sampleToken(last, options, rng, seen);
      out.push(id);
      seen.add(id);
      options.onToken?.(id);
      if (options.stopIds?.includes(id)) break;
      input = [id];
    }
  } finally {
    cache.dispose();
  }
  return out;
}

/** The ids a text ends at for this tokenizer: its <|endoftext|> and <|im_end|>, those it has. */
export function defaultStopIds(tokenizer: Tokenizer): number[] {
  return [ENDOFTEXT, IM_END].filter((s) => tokenizer.specials.some((t) => t.content === s)).map((s) => tokenizer.specialId(s));
}

/** Continue a text prompt; returns the new text (special tokens left out). Stops at defaultStopIds unless options.stopIds says otherwise. */
export function generateText(model: LlamaModel, tokenizer: Tokenizer, prompt: string, options: GenerateOptions): string {
  const ids = generate(model, tokenizer.encode(prompt), { stopIds: defaultStopIds(tokenizer), ...options });
  const stream = new TextStream(tokenizer);
  return stream.push(ids) + stream.end();
}
