// Continuous batching: sequences join and leave a running batch between steps, and every step is one
// forward pass over all of them — the weights are read once for the whole batch instead of once per
// sequence. A new sequence runs its prompt alone (prefill), then its keys and values join the batch's
// cache, left-padded to the batch's slot count (or the batch padded to its length), as in batch.ts:
// padding slots are masked out and each row has its own RoPE positions. A finished sequence's row is
// dropped at the next step. The server steps one BatchDecoder; each request is one Sequence in it.
import * as tf from '@tensorflow/tfjs';
import { KvCache, MASKED } from '../model/attention.js';
import type { LlamaModel } from '../model/model.js';
import { type GenerateOptions, Sequence } from './sampling.js';

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
      const logits = tf.tidy(() => {
        const { logits } = this.model.forward(tf.tensor2d([[...prompt]], [1, prompt.length], 'int32'), { cache: own });
        return logits.slice([0, prompt.length - 1, 0], [1, 1, -1]).dataSync() as Float32Array; // [V]
      });
      sequence.accept(logits);
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
      const { logits } = this.model.forward(ids, { cache: this.cache, mask, positions });
      return logits.reshape([B, -1]).dataSync() as Float32Array; // [B, V]
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
