// Token shards: a corpus tokenized once into flat binary files of token ids (uint16 when the vocabulary
// fits, else uint32), documents separated by <|endoftext|>, plus index.json saying what is where. Training
// then reads windows of ids straight from disk instead of re-tokenizing text every epoch.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

/** One shard file and how many tokens it holds. */
export interface ShardFile {
  file: string;
  tokens: number;
}

/** What one input file contributed (malformed JSONL lines are skipped and counted, never silently). */
export interface SourceStats {
  file: string;
  bytes: number;
  documents: number;
  malformed: number;
  malformedExamples: string[];
  invalidUtf8: number;
}

/** index.json of a shard directory. */
export interface ShardIndex {
  format: 'tinyllm-shards-1';
  dtype: 'uint16' | 'uint32';
  vocabSize: number;
  /** Id of <|endoftext|>, written after every document. */
  eot: number;
  train: ShardFile[];
  val: ShardFile[];
  documents: { train: number; val: number };
  sources: SourceStats[];
}

/** The storage type for a vocabulary: 2 bytes per token while ids fit. */
export function shardDtype(vocabSize: number): ShardIndex['dtype'] {
  return vocabSize <= 65_536 ? 'uint16' : 'uint32';
}

/** Tokens in a split: the sum over its shards. */
export function splitTokens(index: ShardIndex, split: 'train' | 'val'): number {
  return index[split].reduce((n, shard) => n + shard.tokens, 0);
}

/** Appends tokens to numbered shard files of one split, each written atomically when full. */
export class ShardWriter {
  readonly files: ShardFile[] = [];
  private readonly buffer: Uint16Array | Uint32Array;
  private length = 0;

  constructor(private readonly dir: string, private readonly split: 'train' | 'val', dtype: ShardIndex['dtype'], shardTokens: number) {
    this.buffer = dtype === 'uint16' ? new Uint16Array(shardTokens) : new Uint32Array(shardTokens);
  }

  /** Append token ids. */
  push(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) {
      this.buffer[this.length++] = ids[i]!;
      if (this.length === this.buffer.length) this.flush();
    }
  }

  /** Write what is buffered (if anything) and return every shard written. */
  finish(): ShardFile[] {
    if (this.length > 0) this.flush();
    return this.files;
  }

  private flush(): void {
    const file = `${this.split}-${String(this.files.length).padStart(5, '0')}.bin`;
    const view = this.buffer.subarray(0, this.length);
    writeFileAtomic(join(this.dir, file), new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    this.files.push({ file, tokens: this.length });
    this.length = 0;
  }
}

/** Read and check a shard directory's index.json. */
export function readShardIndex(dir: string): ShardIndex {
  const file = join(dir, 'index.json');
  if (!existsSync(file)) throw new Error(`${dir}: no index.json, expected a directory made by \`tinyllm data prepare\``);
  let index: ShardIndex;
  try {
    index = JSON.parse(readFileSync(file, 'utf8')) as ShardIndex;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (index.format !== 'tinyllm-shards-1') throw new Error(`${file}: format: '${index.format}', expected 'tinyllm-shards-1'`);
  for (const split of ['train', 'val'] as const) {
    if (!Array.isArray(index[split])) throw new Error(`${file}: ${split}: missing, expected a list of shards`);
    for (const shard of index[split]) if (!existsSync(join(dir, shard.file))) throw new Error(`${file}: ${split}: ${shard.file} is listed but missing`);
  }
  return index;
}

/** Write index.json atomically. */
export function writeShardIndex(dir: string, index: ShardIndex): void {
  writeFileAtomic(join(dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
}

/** Make the temporary directory shards are written into (`dir.tmp`), refusing to overwrite an existing shard set. */
export function createShardDir(dir: string): string {
  if (existsSync(join(dir, 'index.json'))) throw new Error(`${dir}: already holds shards (index.json); choose another --out or delete it`);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new Error(`${dir}: exists and is not empty; choose another --out or delete it`);
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  return tmp;
}

/** Move the finished shards into place (an empty `dir` the user made is replaced). */
export function finishShardDir(tmp: string, dir: string): void {
  if (existsSync(dir)) rmdirSync(dir);
  renameSync(tmp, dir);
}
