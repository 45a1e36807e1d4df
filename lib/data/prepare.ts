// Corpus → token shards: stream each input file's documents, tokenize them in batches (on worker
// threads when an encoder pool is given), route each document to train or val, append <|endoftext|>
// after it, and write shards and index.json. Memory stays constant: at most a few batches are in flight.
import { rmSync } from 'node:fs';
import { saveTokenizer } from '../tokenizer/files.js';
import { ENDOFTEXT } from '../tokenizer/special.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { isJsonl, readDocuments } from './documents.js';
import { createShardDir, finishShardDir, ShardWriter, shardDtype, writeShardIndex, type ShardIndex, type SourceStats } from './shards.js';

/** Turns a batch of texts into token ids (in-process, or on worker threads). */
export type BatchEncoder = (texts: string[]) => Promise<number[][]>;

/** Options of prepareShards. */
export interface PrepareOptions {
  files: string[];
  tokenizer: Tokenizer;
  out: string;
  /** Share of documents that go to the validation split (0 ≤ f < 1). */
  valFraction?: number;
  /** Tokens per shard file. */
  shardTokens?: number;
  /** Batch encoder; defaults to the tokenizer on this thread. */
  encode?: BatchEncoder;
  /** Batches encoding at once (only useful with a worker pool). */
  inFlight?: number;
  /** Called after each batch with what is done so far. */
  onProgress?: (p: { files: number; documents: number; tokens: number }) => void;
}

interface Piece {
  text: string;
  val: boolean;
  /** Ends a document: <|endoftext|> follows it. */
  last: boolean;
}

const BATCH_CHARS = 1 << 18;

/**
 * Whether document i (counted over all JSONL inputs, in order) goes to the validation split: when
 * floor((i+1)·f) > floor(i·f), an even spread of exactly f of them. datasets/build-eval.ts uses it to
 * pick the texts the shipped base model never trained on.
 */
export function isValDocument(index: number, valFraction: number): boolean {
  return Math.floor((index + 1) * valFraction) > Math.floor(index * valFraction);
}

/** Default share of documents in the validation split. */
export const VAL_FRACTION = 0.01;
/** Default tokens per shard file (32 MiB of uint16). */
export const SHARD_TOKENS = 1 << 24;

/**
 * Tokenize `files` into shards under `out`; returns the index it wrote. The shards are written to
 * `out.tmp/` and renamed when complete, so a failed or interrupted run leaves no half-made `out`.
 */
export async function prepareShards(o: PrepareOptions): Promise<ShardIndex> {
  const valFraction = o.valFraction ?? VAL_FRACTION;
  if (!(valFraction >= 0 && valFraction < 1)) throw new Error(`--val-fraction: ${valFraction}, expected a number in [0, 1)`);
  const tmp = createShardDir(o.out);
  try {
    const index = await writeShards(o, tmp, valFraction);
    finishShardDir(tmp, o.out);
    return index;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

async function writeShards(o: PrepareOptions, dir: string, valFraction: number): Promise<ShardIndex> {
  const eot = o.tokenizer.specialId(ENDOFTEXT);
  const dtype = shardDtype(o.tokenizer.vocabSize);
  const shardTokens = o.shardTokens ?? SHARD_TOKENS;
  const writers = { train: new ShardWriter(dir, 'train', dtype, shardTokens), val: new ShardWriter(dir, 'val', dtype, shardTokens) };
  const encode: BatchEncoder = o.encode ?? (async (texts) => texts.map((t) => o.tokenizer.encode(t)));
  const inFlight = o.inFlight ?? 1;
  const documents = { train: 0, val: 0 };
  let tokens = 0, filesDone = 0, docIndex = 0;

  // Batches are encoded concurrently but written in order, so the shards do not depend on timing.
  const pending: { pieces: Piece[]; ids: Promise<number[][]> }[] = [];
  const writeOldest = async () => {
    const { pieces, ids } = pending.shift()!;
    const encoded = await ids;
    pieces.forEach((piece, i) => {
      const writer = piece.val ? writers.val : writers.train;
      writer.push(encoded[i]!);
      tokens += encoded[i]!.length;
      if (piece.last) {
        writer.push([eot]);
        tokens++;
      }
    });
    o.onProgress?.({ files: filesDone, documents: documents.train + documents.val, tokens });
  };
  let batch: Piece[] = [], batchChars = 0;
  const submit = async () => {
    if (batch.length === 0) return;
    pending.push({ pieces: batch, ids: encode(batch.map((p) => p.text)) });
    batch = [];
    batchChars = 0;
    if (pending.length >= inFlight) await writeOldest();
  };
  const add = async (piece: Piece) => {
    batch.push(piece);
    batchChars += piece.text.length;
    if (batchChars >= BATCH_CHARS) await submit();
  };
  const nextIsVal = () => {
    const val = isValDocument(docIndex, valFraction);
    docIndex++;
    documents[val ? 'val' : 'train']++;
    return val;
  };

  const sources: SourceStats[] = [];
  for (const file of o.files) {
    const jsonl = isJsonl(file);
    // A plain text file is one document, read in pieces; a JSONL line is one document.
    const fileVal = jsonl ? false : nextIsVal();
    const stats = await readDocuments(file, (text) => add(jsonl ? { text, val: nextIsVal(), last: true } : { text, val: fileVal, last: false }));
    if (!jsonl) await add({ text: '', val: fileVal, last: true });
    filesDone++;
    sources.push({ file, bytes: stats.bytes, documents: stats.documents, malformed: stats.malformed, malformedExamples: stats.malformedExamples, invalidUtf8: stats.invalid });
  }
  await submit();
  while (pending.length > 0) await writeOldest();
  // Every document adds one <|endoftext|>: fewer tokens than that means there was no text at all.
  if (tokens <= documents.train + documents.val) throw new Error(`${o.files.join(', ')}: no text to tokenize (${documents.train + documents.val} empty document(s)), expected documents with text`);

  const index: ShardIndex = {
    format: 'tinyllm-shards-1', dtype, vocabSize: o.tokenizer.vocabSize, eot,
    train: writers.train.finish(), val: writers.val.finish(), documents, sources,
  };
  saveTokenizer(o.tokenizer, dir);
  writeShardIndex(dir, index);
  return index;
}
