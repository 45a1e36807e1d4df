// Supervised fine-tuning data: conversations → ids and a loss mask, stored once, served as padded batches.
//
// `tinyllm data prepare --format sft` reads SFT records (conversations.ts), renders each with the chat
// template (tokenizer/chat.ts: the mask is 1 exactly on assistant contents and their <|im_end|>), fits
// it into --seq + 1 tokens by dropping whole turns from the end, and writes per split
//   {split}.ids.bin (uint16/uint32), {split}.mask.bin (uint8, one per id), {split}.offsets.bin (float64,
//   examples + 1 boundaries)
// and index.json. Training reads examples back with positioned reads and pads each batch on the right
// to its longest example, with weight 0 on the padding — the loss never sees it, and causal attention
// means real tokens never attend to it.
import { closeSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { saveTokenizer } from '../tokenizer/files.js';
import { applyChatTemplate, type ChatEncoding, type ChatMessage } from '../tokenizer/chat.js';
import { ENDOFTEXT } from '../tokenizer/special.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readConversation } from './conversations.js';
import { readJsonl } from './documents.js';
import type { Rng } from '../rng.js';
import { EpochOrder, type Batch, type BatchSource, type LoaderPosition } from './loader.js';
import { createShardDir, finishShardDir, shardDtype, type SourceStats } from './shards.js';

/** One split's size. */
export interface SftSplit {
  examples: number;
  tokens: number;
  /** Tokens with mask 1: what the loss trains on. */
  trained: number;
}

/** What preparing found: every record (a conversation, a preference pair) is kept whole, cut at a turn, or skipped — and counted. */
export interface SftReport {
  records: number;
  kept: number;
  /** Kept after dropping turns from the end so that the rest fits --seq. */
  cut: number;
  /** Skipped: longer than --seq (a conversation's first exchange, either answer of a pair). */
  tooLong: number;
  /** Skipped: not a valid record (see sources[].malformedExamples). */
  malformed: number;
}

/** The formats of example directories: SFT conversations, and DPO pairs (each pair two consecutive examples: chosen, rejected). */
export type ExamplesFormat = 'tinyllm-sft-1' | 'tinyllm-dpo-1';

/** index.json of an SFT (or DPO) data directory. */
export interface SftIndex {
  format: ExamplesFormat;
  dtype: 'uint16' | 'uint32';
  vocabSize: number;
  /** Id that pads batches (<|endoftext|>). */
  pad: number;
  /** Every example has at most seq + 1 ids (seq predictions). */
  seq: number;
  train: SftSplit;
  val: SftSplit;
  report: SftReport;
  sources: SourceStats[];
}

/** An example: ids and, per id, 1 where the loss trains on it. */
export interface SftExample {
  ids: number[];
  mask: number[];
}

/**
 * Fit an encoded conversation into seq + 1 ids (seq predictions): whole if it fits, else its longest
 * prefix that ends with an assistant message (so no <|im_end|> is ever cut off); null when none fits.
 */
export function fitConversation(messages: readonly ChatMessage[], encoding: ChatEncoding, seq: number): (SftExample & { cut: boolean }) | null {
  for (let last = messages.length - 1; last >= 0; last--) {
    const end = encoding.messageEnds[last]!;
    if (messages[last]!.role !== 'assistant' || end > seq + 1) continue;
    return { ids: encoding.ids.slice(0, end), mask: encoding.assistantMask.slice(0, end), cut: last < messages.length - 1 };
  }
  return null;
}

/** Options of prepareSft (and prepareDpo). */
export interface SftPrepareOptions {
  /** JSONL files (.gz ok) of SFT records (preference pairs for DPO). */
  files: string[];
  /** Files for the validation split; without them valFraction of the records go there. */
  valFiles?: string[];
  valFraction?: number;
  tokenizer: Tokenizer;
  out: string;
  /** Longest example, in predictions (the ids are one more). */
  seq: number;
  /** Called after each file. */
  onProgress?: (p: { files: number; records: number }) => void;
}

/** What one record stores — one example (a conversation) or two (a pair) — or null when it does not fit. */
export type RecordEncoder<R> = (record: R) => { examples: SftExample[]; cut: boolean } | null;

/** The default longest example: room for a few short turns, within every preset's maxSeq from 16m up. */
export const SFT_SEQ = 512;

/** Default share of conversations in the validation split when no val files are given. */
export const SFT_VAL_FRACTION = 0.05;

/** Write an SFT data directory (atomically: to `out.tmp/`, renamed when complete); returns its index. */
export function prepareSft(o: SftPrepareOptions): Promise<SftIndex> {
  return writeExamples(o, 'tinyllm-sft-1', readConversation, (messages) => {
    const example = fitConversation(messages, applyChatTemplate(o.tokenizer, messages), o.seq);
    return example && { examples: [example], cut: example.cut };
  });
}

/**
 * Read records with `read` (which throws "field: reason" for a bad one), store what `encode` makes of
 * each, route whole records to train or val, and write the directory with its index and report.
 */
export async function writeExamples<R>(o: SftPrepareOptions, format: ExamplesFormat, read: (value: unknown) => R, encode: RecordEncoder<R>): Promise<SftIndex> {
  const valFraction = o.valFiles?.length ? 0 : o.valFraction ?? SFT_VAL_FRACTION;
  if (!(valFraction >= 0 && valFraction < 1)) throw new Error(`--val-fraction: ${valFraction}, expected a number in [0, 1)`);
  if (!(Number.isInteger(o.seq) && o.seq >= 2)) throw new Error(`--seq: ${o.seq}, expected an integer >= 2`);
  const tmp = createShardDir(o.out);
  const dtype = shardDtype(o.tokenizer.vocabSize);
  const writers = { train: new SplitWriter(tmp, 'train', dtype), val: new SplitWriter(tmp, 'val', dtype) };
  try {
    const report: SftReport = { records: 0, kept: 0, cut: 0, tooLong: 0, malformed: 0 };
    const sources: SourceStats[] = [];
    let index = 0;
    const inputs = [...o.files.map((file) => ({ file, val: false })), ...(o.valFiles ?? []).map((file) => ({ file, val: true }))];
    for (const [done, { file, val }] of inputs.entries()) {
      const stats = await readJsonl(file, read, (record) => {
        report.records++;
        const encoded = encode(record);
        if (!encoded) {
          report.tooLong++;
          return;
        }
        report.kept++;
        if (encoded.cut) report.cut++;
        // Record i goes to val when floor((i+1)·f) > floor(i·f): an even spread, exactly f of them.
        const toVal = val || Math.floor((index + 1) * valFraction) > Math.floor(index * valFraction);
        index++;
        for (const example of encoded.examples) writers[toVal ? 'val' : 'train'].push(example);
      });
      report.malformed += stats.malformed;
      sources.push({ file, bytes: stats.bytes, documents: stats.documents, malformed: stats.malformed, malformedExamples: stats.malformedExamples, invalidUtf8: stats.invalid });
      o.onProgress?.({ files: done + 1, records: report.records });
    }
    if (report.kept === 0) throw new Error(`${inputs.map((i) => i.file).join(', ')}: nothing to train on (${report.malformed} malformed record(s), ${report.tooLong} longer than --seq ${o.seq}), expected ${format === 'tinyllm-dpo-1' ? 'preference pairs' : 'SFT records'} (see --help)`);
    const sftIndex: SftIndex = {
      format, dtype, vocabSize: o.tokenizer.vocabSize, pad: o.tokenizer.specialId(ENDOFTEXT), seq: o.seq,
      train: writers.train.finish(), val: writers.val.finish(), report, sources,
    };
    saveTokenizer(o.tokenizer, tmp);
    writeFileAtomic(join(tmp, 'index.json'), `${JSON.stringify(sftIndex, null, 2)}\n`);
    finishShardDir(tmp, o.out);
    return sftIndex;
  } catch (err) {
    writers.train.close();
    writers.val.close();
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Appends examples of one split to its three files. */
class SplitWriter {
  private readonly idsFd: number;
  private readonly maskFd: number;
  private readonly offsets = [0];
  private trained = 0;
  private open = true;

  constructor(private readonly dir: string, private readonly split: 'train' | 'val', private readonly dtype: SftIndex['dtype']) {
    this.idsFd = openSync(join(dir, `${split}.ids.bin`), 'w');
    this.maskFd = openSync(join(dir, `${split}.mask.bin`), 'w');
  }

  push(example: SftExample): void {
    const ids = this.dtype === 'uint16' ? Uint16Array.from(example.ids) : Uint32Array.from(example.ids);
    writeSync(this.idsFd, new Uint8Array(ids.buffer));
    writeSync(this.maskFd, Uint8Array.from(example.mask));
    this.offsets.push(this.offsets[this.offsets.length - 1]! + ids.length);
    for (const m of example.mask) this.trained += m;
  }

  /** Close the files and write the offsets; returns the split's size. */
  finish(): SftSplit {
    this.close();
    writeFileAtomic(join(this.dir, `${this.split}.offsets.bin`), new Uint8Array(Float64Array.from(this.offsets).buffer));
    return { examples: this.offsets.length - 1, tokens: this.offsets[this.offsets.length - 1]!, trained: this.trained };
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    closeSync(this.idsFd);
    closeSync(this.maskFd);
  }
}

/** Read and check an SFT (or, with `format`, DPO) directory's index.json. */
export function readSftIndex(dir: string, format: ExamplesFormat = 'tinyllm-sft-1'): SftIndex {
  const file = join(dir, 'index.json');
  let index: SftIndex;
  try {
    index = JSON.parse(readFileSync(file, 'utf8')) as SftIndex;
  } catch (err) {
    throw new Error(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing, expected a directory made by `tinyllm data prepare --format sft`' : `not valid JSON (${(err as Error).message})`}`);
  }
  if (index.format !== format) throw new Error(`${file}: format: '${index.format}', expected '${format}' (made by \`tinyllm data prepare --format ${format === 'tinyllm-dpo-1' ? 'dpo' : 'sft'}\`)`);
  return index;
}

/** The examples of one split, read on demand. */
export class SftDataset {
  readonly index: SftIndex;
  /** Number of examples. */
  readonly length: number;
  private readonly offsets: Float64Array;
  private readonly idsFd: number;
  private readonly maskFd: number;
  private readonly bytesPerId: number;

  constructor(readonly dir: string, readonly split: 'train' | 'val', format: ExamplesFormat = 'tinyllm-sft-1') {
    this.index = readSftIndex(dir, format);
    const raw = readFileSync(join(dir, `${split}.offsets.bin`));
    this.offsets = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    this.length = this.offsets.length - 1;
    this.bytesPerId = this.index.dtype === 'uint16' ? 2 : 4;
    this.idsFd = openSync(join(dir, `${split}.ids.bin`), 'r');
    this.maskFd = openSync(join(dir, `${split}.mask.bin`), 'r');
  }

  /** Example i's number of ids. */
  exampleLength(i: number): number {
    return this.offsets[i + 1]! - this.offsets[i]!;
  }

  /** Example i's ids and mask. */
  get(i: number): { ids: Uint16Array | Uint32Array; mask: Uint8Array } {
    const start = this.offsets[i]!, n = this.offsets[i + 1]! - start;
    const bytes = Buffer.alloc(n * this.bytesPerId);
    readSync(this.idsFd, bytes, 0, bytes.length, start * this.bytesPerId);
    const mask = new Uint8Array(n);
    readSync(this.maskFd, mask, 0, n, start);
    const ids = this.bytesPerId === 2 ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : new Uint32Array(bytes.buffer, bytes.byteOffset, n);
    return { ids, mask };
  }

  close(): void {
    closeSync(this.idsFd);
    closeSync(this.maskFd);
  }
}

/** Width multiple a batch is padded to: fewer distinct shapes (kernel and plan caches), little waste. */
const PAD_MULTIPLE = 32;
/** Batches sorted together by length: enough to find similar lengths, few enough to stay well mixed. */
const LENGTH_GROUP = 32;

/**
 * Batches of SFT examples in a seeded, per-epoch random order, right-padded to the longest example of
 * the batch (rounded up to 32, at most seq): inputs ids[0…n−2], targets ids[1…n−1], weight mask[1…n−1]
 * (a target is trained when the token it predicts is), 0 on padding. When shuffling, each run of 32
 * batches' worth of examples is sorted by length and the batches are then shuffled again, so a batch
 * holds examples of similar length — far less padding, the same examples each epoch.
 */
export class SftLoader implements BatchSource {
  private readonly epochs: EpochOrder;

  constructor(readonly data: SftDataset, readonly batch: number, readonly seq: number, seed = 0, shuffle = true) {
    if (data.length < batch) throw new Error(`${data.dir}: the ${data.split} split has ${data.length} example(s), fewer than the batch of ${batch}; use a smaller --batch or more data`);
    if (data.index.seq > seq) throw new Error(`${data.dir}: prepared for --seq ${data.index.seq}, longer than --seq ${seq} here; prepare it again with --seq ${seq}`);
    this.epochs = new EpochOrder(data.length, seed, shuffle, shuffle ? (order, rng) => groupByLength(order, rng, batch, (i) => data.exampleLength(i)) : undefined);
  }

  get position(): LoaderPosition {
    return this.epochs.position;
  }

  seek(position: LoaderPosition): void {
    this.epochs.seek(position);
  }

  next(): Batch {
    const examples = Array.from({ length: this.batch }, () => this.data.get(this.epochs.next()));
    return padExamples(examples, this.seq, this.data.index.pad);
  }

  skipBatch(): void {
    this.epochs.advance(this.batch);
  }
}

/**
 * Examples as one batch, right-padded to the longest (rounded up to 32, at most seq): inputs
 * ids[0…n−2], targets ids[1…n−1], weight mask[1…n−1] (a target is trained when the token it predicts
 * is), `pad` with weight 0 after the end.
 */
export function padExamples(examples: { ids: Uint16Array | Uint32Array; mask: Uint8Array }[], seq: number, pad: number): Batch {
  const longest = Math.max(...examples.map((e) => e.ids.length - 1));
  const T = Math.min(seq, Math.ceil(longest / PAD_MULTIPLE) * PAD_MULTIPLE);
  const B = examples.length;
  const inputs = new Int32Array(B * T).fill(pad), targets = new Int32Array(B * T).fill(pad);
  const weights = new Float32Array(B * T);
  examples.forEach(({ ids, mask }, b) => {
    const n = ids.length - 1;
    inputs.set(ids.subarray(0, n), b * T);
    targets.set(ids.subarray(1), b * T);
    weights.set(mask.subarray(1), b * T);
  });
  return { inputs, targets, weights };
}

/**
 * Sort each run of LENGTH_GROUP batches' worth of `order` by length, then shuffle whole batches, so that
 * long and short batches alternate at random. (A tail shorter than a batch keeps its place at the end.)
 */
export function groupByLength(order: Uint32Array, rng: Rng, batch: number, length: (i: number) => number): void {
  const group = batch * LENGTH_GROUP;
  for (let start = 0; start < order.length; start += group) {
    order.subarray(start, Math.min(start + group, order.length)).sort((a, b) => length(a) - length(b));
  }
  const sorted = order.slice();
  const batches = Math.floor(order.length / batch);
  const perm = rng.shuffle(Array.from({ length: batches }, (_, b) => b));
  perm.forEach((from, to) => order.set(sorted.subarray(from * batch, (from + 1) * batch), to * batch));
}
