// A data directory opened for training, whatever it holds: packed pretraining shards
// (`tinyllm data prepare`), SFT examples (`--format sft`) or DPO pairs (`--format dpo`). The loop asks
// it for batch sources and sizes; only DPO needs one thing more, the reference's log-probabilities.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchLoader, TokenStream, type BatchSource } from './loader.js';
import { DpoLoader } from './preferences.js';
import { SftDataset, SftLoader } from './sft.js';

/** Training data of either kind, open for reading. */
export interface TrainingData {
  readonly dir: string;
  readonly kind: 'pretraining' | 'sft' | 'dpo';
  readonly vocabSize: number;
  /** SFT: the longest example in predictions, the natural --seq; pretraining: none (any window length). */
  readonly preparedSeq?: number;
  /** Units of length ≤ seq a split holds (windows, examples or pairs): what --batch counts. */
  rows(split: 'train' | 'val', seq: number): number;
  /** Batches of `batch` units of a split: seeded random order per epoch, or in order (shuffle false). */
  loader(split: 'train' | 'val', batch: number, seq: number, seed: number, shuffle: boolean): BatchSource;
  /** SFT and DPO: a split's examples (DPO: pair i is examples 2i, chosen, and 2i + 1, rejected). */
  examples?: Record<'train' | 'val', SftDataset>;
  /** DPO: the reference model's summed log-probability of each example's answer, set before loader() is asked. */
  reference?: Record<'train' | 'val', Float32Array>;
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
  if (format === 'tinyllm-dpo-1') return dpoData(dir);
  if (format === 'tinyllm-shards-1') return pretrainingData(dir);
  throw new Error(`${file}: format: ${JSON.stringify(format)}, expected 'tinyllm-shards-1', 'tinyllm-sft-1' or 'tinyllm-dpo-1' (made by \`tinyllm data prepare\`)`);
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
    dir, kind: 'sft', vocabSize, preparedSeq, examples: sets,
    rows: (split) => sets[split].length,
    loader: (split, batch, seq, seed, shuffle) => new SftLoader(sets[split], batch, seq, seed, shuffle),
    close: () => Object.values(sets).forEach((s) => s.close()),
  };
}

function dpoData(dir: string): TrainingData {
  const sets = { train: new SftDataset(dir, 'train', 'tinyllm-dpo-1'), val: new SftDataset(dir, 'val', 'tinyllm-dpo-1') };
  const { vocabSize, seq: preparedSeq } = sets.train.index;
  const data: TrainingData = {
    dir, kind: 'dpo', vocabSize, preparedSeq, examples: sets,
    rows: (split) => sets[split].length / 2,
    loader: (split, pairs, seq, seed, shuffle) => {
      if (!data.reference) throw new Error(`${dir}: DPO batches need the reference log-probabilities first`);
      return new DpoLoader(sets[split], pairs, seq, data.reference[split], seed, shuffle);
    },
    close: () => Object.values(sets).forEach((s) => s.close()),
  };
  return data;
}
