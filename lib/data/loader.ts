// Reading training batches from token shards. The shards of a split form one long token stream
// (documents already separated by <|endoftext|>); it is cut into fixed windows of T+1 tokens — packed,
// so no padding is wasted — and each epoch visits the windows in a seeded random order. Where the
// loader stands is two numbers (epoch, cursor), saved in checkpoints so a resumed run sees the same data.
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../rng.js';
import { readShardIndex, type ShardIndex } from './shards.js';

/**
 * The tokens of one split, read on demand with positioned reads. (Node has no mmap; positioned reads
 * through the OS page cache give the same constant memory and random access.)
 */
export class TokenStream {
  readonly index: ShardIndex;
  /** Total tokens in the split. */
  readonly length: number;
  private readonly shards: { fd: number; start: number; tokens: number }[] = [];
  private readonly bytesPerToken: number;

  constructor(readonly dir: string, readonly split: 'train' | 'val') {
    this.index = readShardIndex(dir);
    this.bytesPerToken = this.index.dtype === 'uint16' ? 2 : 4;
    let start = 0;
    for (const shard of this.index[split]) {
      this.shards.push({ fd: openSync(join(dir, shard.file), 'r'), start, tokens: shard.tokens });
      start += shard.tokens;
    }
    this.length = start;
  }

  /** Tokens [start, start + out.length) into `out` (may span shards). */
  read(start: number, out: Int32Array): void {
    let filled = 0;
    for (const shard of this.shards) {
      if (filled === out.length) break;
      const from = start + filled - shard.start;
      if (from >= shard.tokens) continue;
      const n = Math.min(shard.tokens - from, out.length - filled);
      const bytes = Buffer.alloc(n * this.bytesPerToken);
      readSync(shard.fd, bytes, 0, bytes.length, from * this.bytesPerToken);
      const ids = this.bytesPerToken === 2 ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : new Uint32Array(bytes.buffer, bytes.byteOffset, n);
      out.set(ids, filled);
      filled += n;
    }
    if (filled !== out.length) throw new Error(`token stream: read of ${out.length} tokens at ${start} passes the end (${this.length})`);
  }

  /** Close the shard files. */
  close(): void {
    for (const shard of this.shards) closeSync(shard.fd);
  }
}

/** Where a loader stands: the epoch and the next item (window, example) within its order. */
export interface LoaderPosition {
  epoch: number;
  cursor: number;
}

/** A batch: inputs and their next-token targets, row-major [B, T]. */
export interface Batch {
  inputs: Int32Array; // [B, T]
  targets: Int32Array; // [B, T]
  /** How much each target counts in the loss (SFT: 0 on prompt tokens and padding); all 1 when absent. */
  weights?: Float32Array; // [B, T]
  /** DPO: the reference model's summed log-probability of each row's weighted tokens. */
  reference?: Float32Array; // [B]
}

/** What the training loop draws batches from (packed pretraining windows, padded SFT examples). */
export interface BatchSource {
  /** Rows per batch (a DPO batch of n pairs has 2n rows). */
  readonly batch: number;
  /** Where it stands, saved in checkpoints. */
  readonly position: LoaderPosition;
  /** Continue from a saved position. */
  seek(position: LoaderPosition): void;
  /** The next batch, [batch, T] (T may vary from batch to batch). */
  next(): Batch;
  /** Move past the next batch without reading it (another rank's, in data-parallel training). */
  skipBatch(): void;
}

/** Rearranges an epoch's shuffled order in place (e.g. into batches of similar length), with the epoch's generator. */
export type Arrange = (order: Uint32Array, rng: Rng) => void;

/** Visits items 0…size−1 once per epoch, in a new seeded random order each epoch (or in order). */
export class EpochOrder {
  position: LoaderPosition = { epoch: 0, cursor: 0 };
  private order: Uint32Array;

  /** `arrange` refines each shuffled order; like the shuffle it depends only on (seed, epoch), so resume stays exact. */
  constructor(readonly size: number, readonly seed: number, readonly shuffle: boolean, private readonly arrange?: Arrange) {
    this.order = this.orderOf(0);
  }

  /** Continue from a saved position. */
  seek(position: LoaderPosition): void {
    if (!(Number.isInteger(position.cursor) && position.cursor >= 0 && position.cursor <= this.size)) throw new Error(`data position: cursor ${position.cursor}, expected 0…${this.size}`);
    this.position = { ...position };
    this.order = this.orderOf(position.epoch);
  }

  /** Move past the next `count` items, as `count` calls of next() would. */
  advance(count: number): void {
    for (let i = 0; i < count; i++) this.next();
  }

  /** The next item; starts a new epoch (new order) when the items run out. */
  next(): number {
    if (this.position.cursor === this.size) {
      this.position = { epoch: this.position.epoch + 1, cursor: 0 };
      this.order = this.orderOf(this.position.epoch);
    }
    return this.order[this.position.cursor++]!;
  }

  /** Fisher–Yates shuffle of the indices, seeded by (seed, epoch). */
  private orderOf(epoch: number): Uint32Array {
    const order = new Uint32Array(this.size);
    for (let i = 0; i < order.length; i++) order[i] = i;
    if (!this.shuffle) return order;
    const rng = new Rng(Math.imul(this.seed + 1, 0x9e3779b1) ^ epoch);
    rng.shuffle(order);
    this.arrange?.(order, rng);
    return order;
  }
}

/** Batches of packed windows in a seeded, per-epoch random order (shuffle=false: in stream order). */
export class BatchLoader implements BatchSource {
  readonly windows: number;
  private readonly epochs: EpochOrder;

  constructor(readonly stream: TokenStream, readonly batch: number, readonly seq: number, readonly seed = 0, readonly shuffle = true) {
    // Window w holds tokens [w·T, w·T + T]: T inputs and, shifted by one, T targets.
    this.windows = Math.floor((stream.length - 1) / seq);
    if (this.windows < batch) {
      throw new Error(`${stream.dir}: the ${stream.split} split has ${stream.length} tokens, ${Math.max(0, this.windows)} window(s) of ${seq + 1}, fewer than the batch of ${batch}; use a smaller --batch or --seq, or more data`);
    }
    this.epochs = new EpochOrder(this.windows, seed, shuffle);
  }

  get position(): LoaderPosition {
    return this.epochs.position;
  }

  seek(position: LoaderPosition): void {
    this.epochs.seek(position);
  }

  next(): Batch {
    const B = this.batch, T = this.seq;
    const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
    const window = new Int32Array(T + 1);
    for (let b = 0; b < B; b++) {
      this.stream.read(this.epochs.next() * T, window);
      inputs.set(window.subarray(0, T), b * T);
      targets.set(window.subarray(1), b * T);
    }
    return { inputs, targets };
  }

  skipBatch(): void {
    this.epochs.advance(this.batch);
  }
}
