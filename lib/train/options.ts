// A training run's settings and their defaults, in one place: the CLI, the demo and the notebooks
// give only what they change, and `tinyllm train --help` / `tinyllm sft --help` show these values.
import type { ModelConfig } from '../model/config.js';
import type { LoraConfig } from '../model/lora-config.js';
import type { RankSync } from './data-parallel.js';

/** Settings of a training run, every one resolved. */
export interface TrainOptions {
  /** Data directory from `tinyllm data prepare`: pretraining shards or SFT examples (--format sft). */
  data: string;
  /** Run directory: checkpoints, metrics.jsonl, final/. */
  out: string;
  /** Model shape of a new run (its vocabSize must match the data): a fresh model's, or init's. */
  config: ModelConfig;
  /** Start from this model directory's weights (fine-tuning) instead of fresh ones; ignored on resume. */
  init?: string;
  steps: number;
  batch: number;
  /** Tokens per sequence (SFT: the longest padded batch). */
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
  /** Storage precision of final/'s weights (checkpoints keep float32, for exact resume). */
  saveDtype: 'float32' | 'bfloat16';
  /** On cuda, replay the training step from a CUDA graph from the second step on (lib/train/recorded-step.ts). */
  cudaGraph: boolean;
  /** Train a LoRA adapter on the frozen model instead of all its weights; final/ is then the adapter alone. */
  lora?: LoraConfig;
  /** DPO data: the objective's settings. */
  dpo: DpoOptions;
  /** DPO: the reference model's directory (default: the model training starts from). */
  ref?: string;
  /** Data-parallel training: how this process (one rank, one GPU) agrees with the others; none: one process. */
  sync?: RankSync;
}

/** DPO's settings (lib/train/objectives/dpo.ts). */
export interface DpoOptions {
  /** How strongly the log-ratios are compared: small β lets the model move further from the reference. */
  beta: number;
  loss: 'sigmoid' | 'ipo';
  /** Weight of an extra NLL term on the chosen answer (per token), against collapse; 0: off. */
  sftWeight: number;
}

/** TRL's defaults: β 0.1, the sigmoid loss, no NLL term. */
export const DPO_OPTIONS: Readonly<DpoOptions> = { beta: 0.1, loss: 'sigmoid', sftWeight: 0 };

/** What a caller must give — data, out, and config or init — everything else has a default. */
export type TrainSettings = Pick<TrainOptions, 'data' | 'out'> & Partial<TrainOptions>;

/** The settings whose defaults do not depend on others. */
export type TrainDefaults = Pick<TrainOptions, 'steps' | 'batch' | 'accum' | 'lr' | 'weightDecay' | 'clip' | 'seed' | 'evalEvery' | 'evalBatches' | 'saveEvery' | 'resume' | 'saveDtype' | 'cudaGraph'>;

/** Pretraining's defaults (they suit `nano` on a CPU). */
export const TRAIN_DEFAULTS: Readonly<TrainDefaults> = {
  steps: 1000, batch: 8, accum: 1, lr: 1e-3, weightDecay: 0.1, clip: 1, seed: 0,
  evalEvery: 100, evalBatches: 10, saveEvery: 500, resume: false, saveDtype: 'float32', cudaGraph: false,
};

/**
 * Supervised fine-tuning's defaults: a pretrained model needs a smaller learning rate and fewer steps
 * (a few epochs of a small chat set) — the rest as in pretraining.
 */
export const SFT_DEFAULTS: Readonly<TrainDefaults> = { ...TRAIN_DEFAULTS, steps: 300, batch: 16, lr: 3e-4, evalEvery: 50, saveEvery: 100 };

/** DPO's defaults: --batch counts pairs (two rows each); a small learning rate, since the model only re-ranks answers it already writes. */
export const DPO_DEFAULTS: Readonly<TrainDefaults> = { ...SFT_DEFAULTS, steps: 200, batch: 8, lr: 5e-5 };

/** `tinyllm demo` (npm run demo): where it writes, and the steps that fit a few minutes of two CPU cores. */
export const DEMO_DEFAULTS = { out: 'runs/demo', steps: 2400 } as const;

/** The demo's own training settings; everything else is train()'s default. */
export const DEMO_TRAINING = { batch: 8, seq: 128, lr: 3e-3, evalBatches: 4, saveEvery: 0 } as const;

/** How the remaining defaults follow from the others (also the text `--help` shows). */
export const DERIVED_DEFAULTS = {
  seq: 'min(256, the preset\'s maxSeq)',
  sftSeq: 'the --seq the data was prepared with',
  minLr: 'lr / 10',
  warmup: 'min(100, steps / 10)',
} as const;

/**
 * Fill in every default (a setting given as undefined takes its default too): `defaults` for the kind
 * of run, `dataSeq` the length SFT data was prepared for.
 */
export function resolveTrainOptions(settings: TrainSettings & { config: ModelConfig }, defaults: Readonly<TrainDefaults> = TRAIN_DEFAULTS, dataSeq?: number): TrainOptions {
  const s = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as TrainSettings & { config: ModelConfig };
  const o = { ...defaults, ...s };
  return {
    ...o,
    dpo: { ...DPO_OPTIONS, ...s.dpo },
    seq: s.seq ?? dataSeq ?? Math.min(256, s.config.maxSeq),
    minLr: s.minLr ?? o.lr / 10,
    warmup: s.warmup ?? Math.min(100, Math.ceil(o.steps / 10)),
  };
}
