// The training loop, for pretraining and fine-tuning alike: batches from the data, the LR schedule, a
// step, and around it what a long run needs — metrics.jsonl (and an onStep hook for progress), periodic
// validation, checkpoints, exact resume, and stopping cleanly.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModelDir, readModelConfig, saveModelDir } from '../io/model-dir.js';
import { saveAdapter } from '../io/peft.js';
import { LoraAdapter } from '../model/lora.js';
import type { BatchSource } from '../data/loader.js';
import { openTrainingData, type TrainingData } from '../data/training-data.js';
import { LlamaModel } from '../model/model.js';
import { loadTokenizer } from '../tokenizer/files.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { AdamW } from './adamw.js';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import { resolveTrainOptions, SFT_DEFAULTS, TRAIN_DEFAULTS, type TrainOptions, type TrainSettings } from './options.js';
import { cosineLr } from './schedule.js';
import { evaluate, trainStep } from './step.js';

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
  /** Once the model is ready, before the first step (startStep: 0, or the step a resumed run continues from; options: every setting resolved). */
  onStart?: (model: LlamaModel, tokenizer: Tokenizer, startStep: number, options: TrainOptions) => void | Promise<void>;
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

/**
 * Train (or resume) a model on a data directory — pretraining shards, or SFT examples starting from
 * `init` — and return it (the caller owns it). Everything is checked before the run directory is
 * made, so a run that cannot start leaves nothing behind.
 */
export async function train(settings: TrainSettings, hooks: TrainHooks = {}): Promise<TrainResult> {
  const checkpoint = settings.resume ? latestCheckpoint(settings.out) : null;
  if (settings.resume && !checkpoint) throw new Error(`--resume: ${existsSync(settings.out) ? `${settings.out} has no step-NNNNNN checkpoint` : `${settings.out} does not exist`}, expected a run directory to resume from`);
  if (!settings.resume && existsSync(join(settings.out, 'metrics.jsonl'))) throw new Error(`${settings.out}: already holds a run (metrics.jsonl); pass --resume to continue it or choose another --out`);
  if ((settings.config === undefined) === (settings.init === undefined)) throw new Error('train: expected either config (a fresh model) or init (a model directory to start from)');
  const config = settings.config ?? readModelConfig(settings.init!);
  const data = openTrainingData(settings.data);
  try {
    const o = resolveTrainOptions({ ...settings, config }, data.kind === 'sft' ? SFT_DEFAULTS : TRAIN_DEFAULTS, data.preparedSeq);
    return await run(o, checkpoint, data, hooks);
  } finally {
    data.close();
  }
}

/** The run itself, once the data is open: check what depends on it, then set up and step. */
async function run(o: TrainOptions, checkpoint: string | null, data: TrainingData, hooks: TrainHooks): Promise<TrainResult> {
  const metricsFile = join(o.out, 'metrics.jsonl');
  if (!checkpoint && o.config.vocabSize !== data.vocabSize) throw new Error(`${o.data}: vocabulary of ${data.vocabSize} tokens, but ${o.init ?? 'the model'}'s vocabSize is ${o.config.vocabSize}`);
  const loaded = checkpoint ? loadCheckpoint(checkpoint) : o.init ? { ...loadModelDir(o.init), state: null, restoreOptimizer: null } : null;
  const state: TrainState = loaded?.state ?? { step: 0, tokens: 0, adamT: 0, seed: o.seed, data: { epoch: 0, cursor: 0 } };
  const maxSeq = loaded?.model.config.maxSeq ?? o.config.maxSeq;
  let loader: BatchSource;
  try {
    if (o.seq > maxSeq) throw new Error(`--seq: ${o.seq}, longer than the model's maxSeq ${maxSeq}`);
    loader = data.loader('train', o.batch, o.seq, state.seed, true); // fails when the data is too small
    loader.seek(state.data);
  } catch (err) {
    loaded?.model.dispose();
    throw err;
  }
  // A small val split may hold fewer rows than a batch: validate on smaller batches, or not at all.
  const valBatch = Math.min(o.batch, data.rows('val', o.seq));
  if (o.evalEvery > 0 && valBatch < 1) console.warn(`train: ${o.data} has no validation ${data.kind === 'sft' ? 'examples' : `windows of ${o.seq + 1} tokens`}; validation is off`);
  const model = loaded?.model ?? LlamaModel.create(o.config, o.seed);
  // A LoRA run freezes the model and trains an adapter (a resumed one came back with its checkpoint).
  if (o.lora && !model.adapter) LoraAdapter.create(model, o.lora, o.seed);
  const tokenizer = loaded?.tokenizer ?? loadTokenizer(o.data);
  const optimizer = new AdamW(model.trainableParams(), { weightDecay: o.weightDecay });
  if (loaded?.restoreOptimizer) {
    loaded.restoreOptimizer(optimizer);
    if (state.seed !== o.seed) console.warn(`train: resuming with the checkpoint's data seed ${state.seed} (--seed ${o.seed} applies to new runs)`);
    keepMetricsUpTo(metricsFile, state.step);
  } else {
    mkdirSync(o.out, { recursive: true });
  }

  const schedule = { lr: o.lr, warmup: o.warmup, steps: o.steps, minLr: o.minLr };
  const history: StepMetrics[] = [];
  const startStep = state.step;
  const save = () => saveCheckpoint(o.out, model, optimizer, { ...state, adamT: optimizer.t, data: loader.position }, tokenizer);
  const validating = o.evalEvery > 0 && valBatch >= 1;
  const validate = () => evaluate(model, data.loader('val', valBatch, o.seq, 0, false), o.evalBatches);
  const initialValLoss = validating && startStep === 0 ? validate() : undefined;
  await hooks.onStart?.(model, tokenizer, startStep, o);
  let stopped = false;
  while (state.step < o.steps) {
    const started = performance.now();
    const lr = cosineLr(state.step, schedule);
    const micro = Array.from({ length: o.accum }, () => loader.next());
    const tokens = micro.reduce((n, b) => n + b.inputs.length, 0); // positions processed (SFT batches vary in width)
    const { loss, gradNorm } = trainStep(model, optimizer, micro, o.batch, lr, o.clip);
    if (!Number.isFinite(loss)) throw new Error(`train: loss is ${loss} at step ${state.step + 1}; lower --lr or check the data`);
    state.step++;
    state.tokens += tokens;
    const metrics: StepMetrics = {
      step: state.step, loss, lr, tokens: state.tokens,
      tok_s: Math.round(tokens / ((performance.now() - started) / 1000)), grad_norm: gradNorm,
    };
    if (validating && (state.step % o.evalEvery === 0 || state.step === o.steps)) {
      metrics.val_loss = validate();
    }
    appendFileSync(metricsFile, `${JSON.stringify(metrics)}\n`);
    history.push(metrics);
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
    if (model.adapter) saveAdapter(model.adapter, join(o.out, 'final'), { baseModel: o.init, tokenizer });
    else saveModelDir(model, join(o.out, 'final'), { tokenizer, dtype: o.saveDtype });
  }
  optimizer.dispose();
  return { model, tokenizer, history, stopped, startStep, initialValLoss };
}

/** On resume, forget metrics logged after the checkpoint (those steps run again). */
function keepMetricsUpTo(file: string, step: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8').split('\n').filter((line) => line !== '' && (JSON.parse(line) as StepMetrics).step <= step);
  writeFileAtomic(file, kept.map((l) => `${l}\n`).join(''));
}
