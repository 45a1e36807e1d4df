// A training run's settings and their defaults, in one place: the CLI, the demo and the notebooks
// give only what they change, and `tinyllm train --help` shows these values.
import type { ModelConfig } from '../model/config.js';

/** Settings of a training run, every one resolved. */
export interface TrainOptions {
  /** Shard directory from `tinyllm data prepare`. */
  data: string;
  /** Run directory: checkpoints, metrics.jsonl, final/. */
  out: string;
  /** Model shape for a new run (its vocabSize must match the data); ignored on resume. */
  config: ModelConfig;
  steps: number;
  batch: number;
  seq: number;
  /** Micro-batches per step (gradient accumulation). */
  accum: number;
  lr: number;
  minLr: number;
  warmup: number;
  weightDecay: number;
  /** Maximum global gradient norm. */
  clip: number;
  seed: number;
  /** Validate every N steps (0: never) on evalBatches batches of the val split. */
  evalEvery: number;
  evalBatches: number;
  /** Checkpoint every N steps (0: only at the end and on stop). */
  saveEvery: number;
  /** Continue from the newest checkpoint in `out`. */
  resume: boolean;
}

/** What a caller must give; everything else has a default. */
export type TrainSettings = Pick<TrainOptions, 'data' | 'out' | 'config'> & Partial<TrainOptions>;

/** The defaults that do not depend on other settings (they suit `nano` on a CPU). */
export const TRAIN_DEFAULTS = {
  steps: 1000, batch: 8, accum: 1, lr: 1e-3, weightDecay: 0.1, clip: 1, seed: 0,
  evalEvery: 100, evalBatches: 10, saveEvery: 500, resume: false,
} as const;

/** How the remaining defaults follow from the others (also the text `--help` shows). */
export const DERIVED_DEFAULTS = {
  seq: 'min(256, the preset\'s maxSeq)',
  minLr: 'lr / 10',
  warmup: 'min(100, steps / 10)',
} as const;

/** Fill in every default (a setting given as undefined takes its default too). */
export function resolveTrainOptions(settings: TrainSettings): TrainOptions {
  const s = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as TrainSettings;
  const o = { ...TRAIN_DEFAULTS, ...s };
  return {
    ...o,
    seq: s.seq ?? Math.min(256, s.config.maxSeq),
    minLr: s.minLr ?? o.lr / 10,
    warmup: s.warmup ?? Math.min(100, Math.ceil(o.steps / 10)),
  };
}
