// Batched decoding: every step is one forward pass over all running sequences, so the weights are read
// once for the whole batch instead of once per sequence (what makes serving many users fast, on a GPU
// above all). Each sequence has a row of the KV cache to itself, its position p in slot p:
//
//   cache row 0   a₀ a₁ a₂ a₃ a₄ | next      (prompt of 3, 2 generated)
//   cache row 1   b₀ b₁ b₂ b₃ b₄ b₅ b₆ | next
//   cache row 2   (free)
//
// so rows of different lengths need no padding, and each row computes what it would alone — the tests
// check it against generate() sequence by sequence. Batching is continuous: a new sequence runs its
// prompt into a free row (prefill) and joins at the next step; a finished sequence frees its row.
// Sequences that join together are prefilled together, in as few forward passes as the prefill budget
// allows: on a GPU a pass costs about the same for one prompt as for thirty. The server steps one
// BatchDecoder.
import type { KvCache } from '../model/kv-cache.js';
import type { LlamaModel } from '../model/model.js';
import { type DecodeStep, decodeStep } from './decode-step.js';
import { checkSamplingOptions, type GenerateOptions, prefill, Sequence } from './sampling.js';

/** Positions (padding included) one prefill pass takes at most: more prompts are split, so memory stays bounded. */
export const PREFILL_POSITIONS = 4096;

export class BatchDecoder {
  private readonly cache: KvCache;
  private readonly decode: DecodeStep;
  /** The sequence in each cache row; null where the row is free. */
  private readonly rows: (Sequence | null)[];

  /**
   * Room for `rows` sequences at once, each up to `capacity` positions (prompt and new tokens); a prefill
   * pass takes up to `prefillPositions` positions of padded prompts (a longer prompt goes alone).
   */
  constructor(readonly model: LlamaModel, rows: number, capacity = model.config.maxSeq, readonly prefillPositions = PREFILL_POSITIONS) {
    this.cache = model.newCache(rows, capacity);
    this.decode = decodeStep(model, this.cache);
    this.rows = new Array<Sequence | null>(rows).fill(null);
  }

  /** How decoding steps run ('eager', 'cuda graph', …). */
  get mode(): string {
    return this.decode.mode;
  }

  /** Sequences running now. */
  get size(): number {
    return this.rows.filter((s) => s && !s.done).length;
  }

  /** Start a sequence: run its prompt into a free row, sample its first id, and add it to the batch (unless already done). */
  add(prompt: readonly number[], options: GenerateOptions): Sequence {
    return this.join([this.sequence(prompt, options)])[0]!;
  }

  /** A sequence for this batch, checked (its options, and that it fits a row), not yet started: join() starts it. */
  sequence(prompt: readonly number[], options: GenerateOptions): Sequence {
    const sequence = new Sequence(prompt, options, this.model.config.maxSeq);
    const { capacity } = this.cache.shape;
    if (!sequence.done && prompt.length + options.maxNewTokens > capacity) throw new Error(`generate: ${prompt.length} prompt + ${options.maxNewTokens} new tokens exceed the batch's ${capacity} positions per sequence`);
    return sequence;
  }

  /**
   * Start sequences made by sequence(): prefill their prompts into free rows, together (a pass per
   * prefillPositions positions of padded prompts), sample each one's first id, and add those not yet
   * done to the batch. Throws before running anything when the free rows are too few.
   */
  join(sequences: readonly Sequence[]): Sequence[] {
    this.freeFinished();
    if (sequences.some((s) => s.ids.length > 0)) throw new Error('generate: a sequence that has started cannot join again');
    const starting = sequences.filter((s) => !s.done); // (maxNewTokens 0)
    const free = this.rows.flatMap((s, r) => (s ? [] : [r]));
    if (starting.length > free.length) {
      throw new Error(free.length === 0 ? `generate: all ${this.rows.length} rows of the batch are running` : `generate: ${starting.length} sequences to start, but only ${free.length} of the batch's ${this.rows.length} rows are free`);
    }
    let group: Sequence[] = []; // the prompts of the next pass
    let longest = 0;
    const run = () => {
      const rows = free.splice(0, group.length);
      for (const r of rows) this.cache.clear(r);
      const logits = prefill(this.model, group.map((s) => s.prompt), this.cache, rows);
      group.forEach((s, b) => {
        s.accept(logits[b]!);
        if (!s.done) this.rows[rows[b]!] = s;
      });
      group = [];
      longest = 0;
    };
    for (const s of starting) {
      if (group.length > 0 && (group.length + 1) * Math.max(longest, s.prompt.length) > this.prefillPositions) run();
      group.push(s);
      longest = Math.max(longest, s.prompt.length);
    }
    if (group.length > 0) run();
    return sequences.slice();
  }

  /** One id for every running sequence, in one forward pass (rows that finished since are freed first). */
  step(): void {
    this.freeFinished();
    const cacheRows = this.rows.flatMap((s, r) => (s ? [r] : []));
    if (cacheRows.length === 0) return;
    const sequences = cacheRows.map((r) => this.rows[r]!);
    const { logits, mostLikely } = this.decode.run(sequences.map((s) => s.ids.at(-1)!), cacheRows, sequences.some((s) => s.needsLogits));
    const V = this.model.config.vocabSize;
    sequences.forEach((s, b) => s.acceptStep(logits?.slice(b * V, (b + 1) * V) ?? null, mostLikely?.[b]));
  }

  /** Free the rows of finished (or cancelled) sequences. */
  private freeFinished(): void {
    this.rows.forEach((s, r) => {
      if (s?.done) this.rows[r] = null;
    });
  }

  /** Free the cache (every sequence ends). */
  dispose(): void {
    for (const s of this.rows) s?.finish('length');
    this.rows.fill(null);
    this.decode.dispose();
    this.cache.dispose();
  }
}

/**
 * Continue each prompt as generate() would (the same options, the same seed for every row), decoding
 * them as one batch; returns the new ids of each row, a stop id included.
 */
export function generateBatch(model: LlamaModel, prompts: readonly (readonly number[])[], options: GenerateOptions): number[][] {
  checkSamplingOptions(options);
  if (prompts.length === 0) return [];
  const longest = Math.max(...prompts.map((p) => p.length));
  const batch = new BatchDecoder(model, prompts.length, Math.min(model.config.maxSeq, longest + options.maxNewTokens));
  try {
    const sequences = batch.join(prompts.map((prompt, b) => {
      try {
        return batch.sequence(prompt, options);
      } catch (err) {
        throw new Error(`generateBatch: prompt ${b}: ${(err as Error).message.replace(/^generate: /, '')}`);
      }
    }));
    while (batch.size > 0) batch.step();
    return sequences.map((s) => s.ids);
  } finally {
    batch.dispose();
  }
}
