// A data directory opened for training, whatever it holds: packed pretraining shards
// (`tinyllm data prepare`) or SFT examples (`--format sft`). The loop asks it for batch sources and
// sizes and never needs to know which kind it has.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchLoader, TokenStream, type BatchSource } from './loader.js';
import { SftDataset, SftLoader } from './sft.js';

/** Training data of either kind, open for reading. */
export interface TrainingData {
  readonly dir: string;
  readonly kind: 'pretraining' | 'sft';
  readonly vocabSize: number;
  /** SFT: the longest example in predictions, the natural --seq; pretraining: none (any window length). */
  readonly preparedSeq?: number;
  /** Rows of length ≤ seq a split holds (windows or examples). */
  rows(split: 'train' | 'val', seq: number): number;
  /** Batches of a split: seeded random order per epoch, or in order (shuffle false). */
  loader(split: 'train' | 'val', batch: number, seq: number, seed: number, shuffle: boolean): BatchSource;
  close(): void;
}

/** Open a data directory by the format its index.json names. */
export function openTrainingData(dir: string): TrainingData {
  const file = join(dir, 'index.json');
  let format: unknown;
  try {
    format = (JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown }).format;
  } catch (err) {
    throw new Error(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing, expected a directory made by `tinyllm data prepare`' : `not valid JSON (${(err as Error).message})`}`);
  }
  if (format === 'tinyllm-sft-1') return sftData(dir);
  if (format === 'tinyllm-shards-1') return pretrainingData(dir);
  throw new Error(`${file}: format: ${JSON.stringify(format)}, expected 'tinyllm-shards-1' or 'tinyllm-sft-1' (made by \`tinyllm data prepare\`)`);
}

function pretrainingData(dir: string): TrainingData {
  const streams = { train: new TokenStream(dir, 'train'), val: new TokenStream(dir, 'val') };
  return {
    dir, kind: 'pretraining', vocabSize: streams.train.index.vocabSize,
    rows: (split, seq) => Math.max(0, Math.floor((streams[split].length - 1) / seq)),
    loader: (split, batch, seq, seed, shuffle) => new BatchLoader(streams[split], batch, seq, seed, shuffle),
    close: () => Object.values(streams).forEach((s) => s.close()),
  };
}

function sftData(dir: string): TrainingData {
  const sets = { train: new SftDataset(dir, 'train'), val: new SftDataset(dir, 'val') };
  const { vocabSize, seq: preparedSeq } = sets.train.index;
  return {
    dir, kind: 'sft', vocabSize, preparedSeq,
    rows: (split) => sets[split].length,
    loader: (split, batch, seq, seed, shuffle) => new SftLoader(sets[split], batch, seq, seed, shuffle),
    close: () => Object.values(sets).forEach((s) => s.close()),
  };
}
