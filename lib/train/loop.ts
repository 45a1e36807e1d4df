// The pretraining loop: batches from the shards, the LR schedule, a step, and around it what a long run
// needs — progress, metrics.jsonl, periodic validation, checkpoints, exact resume, and stopping cleanly.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { saveModelDir } from '../io/model-dir.js';
import { BatchLoader, TokenStream } from '../data/loader.js';
import type { ModelConfig } from '../model/config.js';
import { LlamaModel } from '../model/model.js';
import { loadTokenizer } from '../tokenizer/files.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { Progress } from '../cli/progress.js';
import { AdamW } from './adamw.js';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import { cosineLr } from './schedule.js';
import { evaluate, trainStep } from './step.js';

/** Settings of a training run (the CLI's flags). */
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
  /** Print progress on stderr (default true). */
  progress?: boolean;
}

/** One line of metrics.jsonl. */
export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  tokens: number;
  tok_s: number;
  grad_norm: number;
  val_loss?: number;
}

/** Hooks for notebooks and the CLI. */
export interface TrainHooks {
  /** Once the model is ready, before the first step. */
  onStart?: (model: LlamaModel, tokenizer: Tokenizer) => void | Promise<void>;
  /** After every step (and its validation, if any). */
  onStep?: (m: StepMetrics) => void | Promise<void>;
  /** Polled after every step; true saves a checkpoint and returns (SIGINT, a notebook's stop button). */
  shouldStop?: () => boolean;
}

/** What a run ended with. */
export interface TrainResult {
  model: LlamaModel;
  tokenizer: Tokenizer;
  history: StepMetrics[];
  /** Stopped early by shouldStop (a checkpoint was written). */
  stopped: boolean;
  /** Step the run started from (0 unless resumed). */
  startStep: number;
  /** Validation loss of the untrained model (new runs with evalEvery > 0 and a val split). */
  initialValLoss?: number;
}

/** Train (or resume) a model on shards; the caller owns the returned model. */
export async function train(o: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  mkdirSync(o.out, { recursive: true });
  const stream = new TokenStream(o.data, 'train');
  const valStream = stream.index.val.length > 0 ? new TokenStream(o.data, 'val') : null;
  // A small val split may hold fewer windows than a batch: validate on smaller batches, or not at all.
  const valBatch = valStream ? Math.min(o.batch, Math.floor((valStream.length - 1) / o.seq)) : 0;
  if (o.evalEvery > 0 && valBatch < 1) console.warn(`train: ${o.data} has no validation windows of ${o.seq + 1} tokens; validation is off`);
  let model: LlamaModel, tokenizer: Tokenizer, optimizer: AdamW;
  let state: TrainState = { step: 0, tokens: 0, adamT: 0, seed: o.seed, data: { epoch: 0, cursor: 0 } };
  const metricsFile = join(o.out, 'metrics.jsonl');
  const checkpoint = o.resume ? latestCheckpoint(o.out) : null;
  if (o.resume && !checkpoint) throw new Error(`--resume: ${o.out} has no step-NNNNNN checkpoint to resume from`);
  if (checkpoint) {
    const loaded = loadCheckpoint(checkpoint);
    model = loaded.model;
    tokenizer = loaded.tokenizer ?? loadTokenizer(o.data);
    optimizer = new AdamW(model.params, { weightDecay: o.weightDecay });
    loaded.restoreOptimizer(optimizer);
    state = loaded.state;
    if (state.seed !== o.seed) console.warn(`train: resuming with the checkpoint's data seed ${state.seed} (--seed ${o.seed} applies to new runs)`);
    keepMetricsUpTo(metricsFile, state.step);
  } else {
    if (existsSync(metricsFile)) throw new Error(`${o.out}: already holds a run (metrics.jsonl); pass --resume to continue it or choose another --out`);
    if (o.config.vocabSize !== stream.index.vocabSize) throw new Error(`${o.data}: vocabulary of ${stream.index.vocabSize} tokens, but the model's vocabSize is ${o.config.vocabSize}`);
    model = LlamaModel.create(o.config, o.seed);
    tokenizer = loadTokenizer(o.data);
    optimizer = new AdamW(model.params, { weightDecay: o.weightDecay });
  }
  if (o.seq > model.config.maxSeq) throw new Error(`--seq: ${o.seq}, longer than the model's maxSeq ${model.config.maxSeq}`);
  const loader = new BatchLoader(stream, o.batch, o.seq, state.seed);
  loader.seek(state.data);

  const schedule = { lr: o.lr, warmup: o.warmup, steps: o.steps, minLr: o.minLr };
  const tokensPerStep = o.batch * o.seq * o.accum;
  const history: StepMetrics[] = [];
  const startStep = state.step;
  const progress = o.progress === false ? null : new Progress('train', o.steps, ' steps', startStep);
  const save = () => saveCheckpoint(o.out, model, optimizer, { ...state, adamT: optimizer.t, data: loader.position }, tokenizer);
  const validating = o.evalEvery > 0 && valBatch >= 1;
  const validate = () => evaluate(model, new BatchLoader(valStream!, valBatch, o.seq, 0, false), o.evalBatches);
  const initialValLoss = validating && startStep === 0 ? validate() : undefined;
  await hooks.onStart?.(model, tokenizer);
  let stopped = false;
  while (state.step < o.steps) {
    const started = performance.now();
    const lr = cosineLr(state.step, schedule);
    const micro = Array.from({ length: o.accum }, () => loader.next());
    const { loss, gradNorm } = trainStep(model, optimizer, micro, o.batch, o.seq, lr, o.clip);
    if (!Number.isFinite(loss)) throw new Error(`train: loss is ${loss} at step ${state.step + 1}; lower --lr or check the data`);
    state.step++;
    state.tokens += tokensPerStep;
    const metrics: StepMetrics = {
      step: state.step, loss, lr, tokens: state.tokens,
      tok_s: Math.round(tokensPerStep / ((performance.now() - started) / 1000)), grad_norm: gradNorm,
    };
    if (validating && (state.step % o.evalEvery === 0 || state.step === o.steps)) {
      metrics.val_loss = validate();
    }
    appendFileSync(metricsFile, `${JSON.stringify(metrics)}\n`);
    history.push(metrics);
    progress?.update(state.step, `loss ${loss.toFixed(3)}${metrics.val_loss !== undefined ? ` · val ${metrics.val_loss.toFixed(3)}` : ''} · ${metrics.tok_s} tok/s`);
    await hooks.onStep?.(metrics);
    // Let the event loop run (a signal handler, a notebook's plot update) before the next step.
    await new Promise((resolve) => setImmediate(resolve));
    if (o.saveEvery > 0 && state.step % o.saveEvery === 0) save();
    if (hooks.shouldStop?.() && state.step < o.steps) {
      save();
      stopped = true;
      break;
    }
  }
  if (!stopped) {
    if (state.step !== startStep && !(o.saveEvery > 0 && state.step % o.saveEvery === 0)) save();
    saveModelDir(model, join(o.out, 'final'), { tokenizer });
  }
  optimizer.dispose();
  stream.close();
  valStream?.close();
  return { model, tokenizer, history, stopped, startStep, initialValLoss };
}

/** On resume, forget metrics logged after the checkpoint (those steps run again). */
function keepMetricsUpTo(file: string, step: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8').split('\n').filter((line) => line !== '' && (JSON.parse(line) as StepMetrics).step <= step);
  writeFileAtomic(file, kept.map((l) => `${l}\n`).join(''));
}
