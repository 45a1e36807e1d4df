// Choosing the next token from logits — the penalties, temperature, top-k, top-p and min-p, in Hugging
// Face's order — and generating a continuation with the KV cache, streaming each id as it is sampled.
import * as tf from '@tensorflow/tfjs';
import type { KvCache } from '../model/kv-cache.js';
import { type DecodeStep, decodeStep } from './decode-step.js';
import type { LlamaModel } from '../model/model.js';
import { Rng } from '../rng.js';
import { ENDOFTEXT, IM_END } from '../tokenizer/special.js';
import { TextStream } from '../tokenizer/text-stream.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { checkSamplingOptions, type GenerateOptions, type SampleOptions } from './sampling-options.js';
import { floatValuesOf } from '../backend/read-values.js';

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

/** OpenAI's penalties: logit −= presence·[id was generated] + frequency·(times it was generated). */
export function applyOpenAiPenalties(logits: ArrayLike<number>, generated: readonly number[], presence: number, frequency: number): Float64Array {
  const out = Float64Array.from(logits);
  const counts = new Map<number, number>();
  for (const id of generated) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [id, n] of counts) out[id]! -= presence + frequency * n;
  return out;
}

// A sum of probabilities that equals p on paper can land a rounding error below it; this much slack
// keeps top-p = 0.8 over probabilities 0.5 + 0.3 at two tokens.
const TOP_P_SLACK = 1e-9;

/**
 * Pick a token id from logits [V] (plain numbers, on the CPU). `seen` (prompt and generated ids) feeds
 * the repetition penalty, `generated` (the ids sampled so far, repeats included) the presence and
 * frequency penalties.
 */
export function sampleToken(logits: ArrayLike<number>, options: SampleOptions, rng: Rng, seen?: Iterable<number>, generated?: readonly number[]): number {
  checkSamplingOptions(options);
  const temperature = options.temperature ?? 1;
  const penalty = options.repetitionPenalty ?? 1;
  let scores: ArrayLike<number> = penalty !== 1 && seen ? applyRepetitionPenalty(logits, seen, penalty) : logits;
  if ((options.presencePenalty || options.frequencyPenalty) && generated?.length) scores = applyOpenAiPenalties(scores, generated, options.presencePenalty ?? 0, options.frequencyPenalty ?? 0);
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
  if (options.minP) {
    // weights[0] is the most likely candidate's (when sorted) or any's; keep those ≥ minP × the largest.
    const floor = options.minP * Math.max(...weights);
    const keep = weights.map((w, j) => (w >= floor ? j : -1)).filter((j) => j >= 0);
    candidates = keep.map((j) => candidates[j]!);
    weights = keep.map((j) => weights[j]!);
    total = weights.reduce((a, b) => a + b, 0);
  }
  let r = rng.next() * total;
  for (let j = 0; j < candidates.length; j++) {
    r -= weights[j]!;
    if (r < 0) return candidates[j]!;
  }
  return candidates[candidates.length - 1]!;
}

/**
 * One sequence being generated, apart from how its logits are computed: the prompt, the ids sampled
 * so far, its random stream and penalties, and why it ended. accept() samples the next id from the
 * logits after the last one. A Decoder computes them alone; a BatchDecoder for many sequences at once.
 */
export class Sequence {
  /** The ids sampled so far (a stop id included). */
  readonly ids: number[] = [];
  /** Why it ended: 'stop' (a stop id or string), 'length' (maxNewTokens, or cancelled), or null while it runs. */
  finishReason: 'stop' | 'length' | null = null;
  /** The raw logits [V] the last id was sampled from (for log-probabilities). */
  lastLogits: Float32Array | null = null;
  private readonly rng: Rng;
  private readonly seen: Set<number>; // what the repetition penalty applies to: prompt and output

  constructor(readonly prompt: readonly number[], readonly options: GenerateOptions, maxSeq: number) {
    checkSamplingOptions(options);
    if (prompt.length === 0) throw new Error('generate: empty prompt, expected at least one id');
    if (prompt.length + options.maxNewTokens > maxSeq) {
      throw new Error(`generate: ${prompt.length} prompt + ${options.maxNewTokens} new tokens exceed maxSeq ${maxSeq}`);
    }
    this.rng = new Rng(options.seed ?? 0);
    this.seen = new Set(prompt);
    if (options.maxNewTokens === 0) this.finishReason = 'length';
  }

  get done(): boolean {
    return this.finishReason !== null;
  }

  /**
   * Whether the next id needs the logits on the host: not when it is simply the most likely one (greedy
   * without penalties) and nobody asked to keep them — a GPU can then pick it and send only the id.
   */
  get needsLogits(): boolean {
    const o = this.options;
    return !(o.temperature === 0 && (o.repetitionPenalty ?? 1) === 1 && !o.presencePenalty && !o.frequencyPenalty && !o.keepLogits);
  }

  /** Sample the next id from `logits` [V], record it, and end the sequence at a stop id or the length limit. */
  accept(logits: Float32Array): number {
    if (this.done) throw new Error('generate: a token after the end of the sequence');
    this.lastLogits = logits;
    return this.record(sampleToken(logits, this.options, this.rng, this.seen, this.ids));
  }

  /** Record an id picked elsewhere (the most likely one, by the GPU, when !needsLogits), as accept() would. */
  acceptId(id: number): number {
    if (this.done) throw new Error('generate: a token after the end of the sequence');
    if (this.needsLogits) throw new Error('generate: acceptId() for a sequence whose next id needs the logits');
    this.lastLogits = null;
    return this.record(id);
  }

  /** Take a decoding step's output: the id the GPU picked (`mostLikely`) where that is all it needs, else sample `logits`. */
  acceptStep(logits: Float32Array | null, mostLikely: number | undefined): number {
    return mostLikely !== undefined && !this.needsLogits ? this.acceptId(mostLikely) : this.accept(logits!);
  }

  private record(id: number): number {
    this.ids.push(id);
    this.seen.add(id);
    this.options.onToken?.(id);
    if (this.options.stopIds?.includes(id)) this.finish('stop');
    else if (this.ids.length >= this.options.maxNewTokens) this.finish('length');
    return id;
  }

  /** End it early (a stop string matched, its client went away). */
  finish(reason: 'stop' | 'length'): void {
    this.finishReason ??= reason;
  }
}

/**
 * Run prompts into empty rows of `cache` (prompt b into row rows[b]) in one forward pass, and return each
 * one's next-token logits [V]. Shorter prompts are padded on the right to the longest: causal attention
 * keeps the padding out of every real position, and its keys and values land in slots past the prompt,
 * which a decoding step overwrites before it reads them (position p writes slot p, then reads 0 … p).
 */
export function prefill(model: LlamaModel, prompts: readonly (readonly number[])[], cache: KvCache, rows: readonly number[]): Float32Array[] {
  for (const r of rows) if (cache.lengths[r] !== 0) throw new Error(`prefill: cache row ${r} holds ${cache.lengths[r]} positions, expected an empty row`);
  const B = prompts.length;
  const T = Math.max(...prompts.map((p) => p.length));
  const padded = Int32Array.from({ length: B * T }, (_, i) => prompts[Math.floor(i / T)]![i % T] ?? 0); // [B, T]
  const logits = floatValuesOf(() => {
    const placement = cache.place(rows, T); // every row from 0: attention over the prompt itself
    const last = tf.tensor1d(prompts.map((p) => p.length - 1), 'int32'); // [B]: each row's own last position
    return model.logitsAt(tf.tensor2d(padded, [B, T], 'int32'), last, { cache, placement }); // [B, V]
  });
  rows.forEach((r, b) => cache.advance([r], prompts[b]!.length));
  const V = model.config.vocabSize;
  return prompts.map((_, b) => logits.slice(b * V, (b + 1) * V));
}

/**
 * A sequence generated alone with its own KV cache: step() runs the model on the positions not yet seen
 * (the whole prompt first, then the last token) and samples the next id. generate() steps one to the end.
 */
export class Decoder extends Sequence {
  private readonly cache: KvCache | null;
  private readonly decode: DecodeStep | null;

  constructor(readonly model: LlamaModel, prompt: readonly number[], options: GenerateOptions) {
    super(prompt, options, model.config.maxSeq);
    // Room for the prompt and every new token.
    this.cache = this.done ? null : model.newCache(1, prompt.length + options.maxNewTokens);
    this.decode = this.cache && decodeStep(model, this.cache);
  }

  /** How the steps after the prompt run ('eager', 'cuda graph', …). */
  get mode(): string {
    return this.decode?.mode ?? 'eager';
  }

  /** Sample the next id (call while !done). */
  step(): number {
    if (this.done) throw new Error('generate: step() after the end of the sequence');
    // Only the new positions go through the model; the cache holds the keys and values of the rest.
    if (this.ids.length === 0) return this.accept(prefill(this.model, [this.prompt], this.cache!, [0])[0]!);
    const { logits, mostLikely } = this.decode!.run([this.ids.at(-1)!], [0], this.needsLogits);
    return this.acceptStep(logits, mostLikely?.[0]);
  }

  override finish(reason: 'stop' | 'length'): void {
    super.finish(reason);
    // (finish may run from the base constructor, before these exist)
    this.decode?.dispose();
    this.cache?.dispose();
  }
}

/** Continue `prompt` (ids) one token at a time with the KV cache; returns the new ids (onToken sees each as it comes). */
export function generate(model: LlamaModel, prompt: readonly number[], options: GenerateOptions): number[] {
  const decoder = new Decoder(model, prompt, options);
  try {
    while (!decoder.done) decoder.step();
  } finally {
    decoder.finish('length'); // frees the cache if a step threw
  }
  return decoder.ids;
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
