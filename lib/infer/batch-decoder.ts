// Batched decoding: every step is one forward pass over all running sequences, so the weights are read
// once for the whole batch instead of once per sequence (what makes serving many users fast, on a GPU
// above all). Sequences of different lengths share the cache's slots by left padding:
//
//   cache slot   0    1    2    3  | 4 …
//   row 0        pad  pad  a₀   a₁ | new tokens
//   row 1        b₀   b₁   b₂   b₃ | new tokens
//
// Every row's next token goes into the same slot, the padding slots are masked out of attention, and
// RoPE gets each row's own positions (slot − its padding), so each row computes what it would alone —
// the tests check it against generate() sequence by sequence. Batching is continuous: a new sequence
// runs its prompt alone (prefill) and its keys and values join the batch between steps (it, or the
// batch, gets padded in front); a finished sequence's row is dropped. The server steps one BatchDecoder.
import * as tf from '@tensorflow/tfjs';
import { KvCache, MASKED } from '../model/attention.js';
import type { LlamaModel } from '../model/model.js';
import { checkSamplingOptions, type GenerateOptions, lastLogits, Sequence } from './sampling.js';

/** A sequence in a batch, and the padding slots in front of its cache row. */
class Row {
  constructor(readonly sequence: Sequence, public pad: number) {}
}

export class BatchDecoder {
  private rows: Row[] = [];
  private readonly cache: KvCache;

  constructor(readonly model: LlamaModel) {
    this.cache = model.newCache();
  }

  /** Sequences running now. */
  get size(): number {
    return this.rows.filter((r) => !r.sequence.done).length;
  }

  /** Start a sequence: run its prompt alone, sample its first id, and add it to the batch (unless already done). */
  add(prompt: readonly number[], options: GenerateOptions): Sequence {
    const sequence = new Sequence(prompt, options, this.model.config.maxSeq);
    if (sequence.done) return sequence; // maxNewTokens 0
    const own = this.model.newCache();
    try {
      sequence.accept(lastLogits(this.model, prompt, own));
      if (sequence.done) return sequence;
      // Line the slots up: the shorter side gets padding in front.
      const slots = this.cache.rows > 0 ? this.cache.length : 0;
      let pad = 0;
      if (prompt.length < slots) {
        pad = slots - prompt.length;
        own.padFront(pad);
      } else if (this.cache.rows > 0) {
        this.cache.padFront(prompt.length - slots);
        for (const row of this.rows) row.pad += prompt.length - slots;
      }
      this.cache.concatRows(own);
      this.rows.push(new Row(sequence, pad));
      return sequence;
    } finally {
      own.dispose();
    }
  }

  /** One id for every running sequence, in one forward pass (rows that finished since are dropped first). */
  step(): void {
    this.dropFinished();
    if (this.rows.length === 0) return;
    const B = this.rows.length;
    const S = this.cache.length + 1; // slots once this step's ids are in
    const logits = tf.tidy(() => {
      const ids = tf.tensor2d(this.rows.map((r) => [r.sequence.ids.at(-1)!]), [B, 1], 'int32');
      // Each row's last id sits at position prompt + generated − 1 of its own sequence.
      const positions = tf.tensor2d(this.rows.map((r) => [r.sequence.prompt.length + r.sequence.ids.length - 1]), [B, 1], 'int32');
      const mask = tf.tensor4d(this.rows.flatMap((r) => Array.from({ length: S }, (_, s) => (s < r.pad ? MASKED : 0))), [B, 1, 1, S]);
      return this.model.logitsAt(ids, tf.zeros([B], 'int32'), { cache: this.cache, mask, positions }).dataSync() as Float32Array; // [B, V]
    });
    const V = logits.length / B;
    this.rows.forEach((row, b) => row.sequence.accept(logits.slice(b * V, (b + 1) * V)));
  }

  /** Drop the rows of finished (or cancelled) sequences from the batch and its cache. */
  private dropFinished(): void {
    const keep = this.rows.map((r, i) => (r.sequence.done ? -1 : i)).filter((i) => i >= 0);
    if (keep.length === this.rows.length) return;
    this.cache.keepRows(keep);
    this.rows = keep.map((i) => this.rows[i]!);
    if (this.rows.length === 0) return;
    // Slots that every remaining row pads can go.
    const common = Math.min(...this.rows.map((r) => r.pad));
    if (common > 0) {
      this.cache.keepSlotsFrom(common);
      for (const row of this.rows) row.pad -= common;
    }
  }

  /** Free the cache (every sequence ends). */
  dispose(): void {
    for (const row of this.rows) row.sequence.finish('length');
    this.rows = [];
    this.cache.dispose();
  }
}

/**
 * Continue each prompt as generate() would (the same options, the same seed for every row), decoding
 * them as one batch; returns the new ids of each row, a stop id included.
 */
export function generateBatch(model: LlamaModel, prompts: readonly (readonly number[])[], options: GenerateOptions): number[][] {
  checkSamplingOptions(options);
  const batch = new BatchDecoder(model);
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
