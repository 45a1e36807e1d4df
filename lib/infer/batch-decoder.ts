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
// The server steps one BatchDecoder.
import type { KvCache } from '../model/kv-cache.js';
import type { LlamaModel } from '../model/model.js';
import { type DecodeStep, decodeStep } from './decode-step.js';
import { checkSamplingOptions, type GenerateOptions, lastLogits, Sequence } from './sampling.js';

export class BatchDecoder {
  private readonly cache: KvCache;
  private readonly decode: DecodeStep;
  /** The sequence in each cache row; null where the row is free. */
  private readonly rows: (Sequence | null)[];

  /** Room for `rows` sequences at once, each up to `capacity` positions (prompt and new tokens). */
  constructor(readonly model: LlamaModel, rows: number, capacity = model.config.maxSeq) {
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
    const sequence = new Sequence(prompt, options, this.model.config.maxSeq);
    if (sequence.done) return sequence; // maxNewTokens 0
    const { capacity } = this.cache.shape;
    if (prompt.length + options.maxNewTokens > capacity) throw new Error(`generate: ${prompt.length} prompt + ${options.maxNewTokens} new tokens exceed the batch's ${capacity} positions per sequence`);
    this.freeFinished();
    const row = this.rows.indexOf(null);
    if (row < 0) throw new Error(`generate: all ${this.rows.length} rows of the batch are running`);
    this.cache.clear(row);
    sequence.accept(lastLogits(this.model, prompt, this.cache, row));
    if (!sequence.done) this.rows[row] = sequence;
    return sequence;
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
    const sequences = prompts.map((prompt, b) => {
      try {
        return batch.add(prompt, options);
      } catch (err) {
        throw new Error(`generateBatch: prompt ${b}: ${(err as Error).message.replace(/^generate: /, '')}`);
      }
    });
    while (batch.size > 0) batch.step();
    return sequences.map((s) => s.ids);
  } finally {
    batch.dispose();
  }
}
