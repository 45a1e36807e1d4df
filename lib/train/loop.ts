// The pretraining loop: batches from the shards, the LR schedule, a step, and around it what a long run
// needs — metrics.jsonl (and an onStep hook for progress), periodic validation, checkpoints, exact resume, and stopping cleanly.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { saveModelDir } from '../io/model-dir.js';
import { BatchLoader, TokenStream } from '../data/loader.js';
import { LlamaModel } from '../model/model.js';
import { loadTokenizer } from '../tokenizer/files.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { AdamW } from './adamw.js';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import { resolveTrainOptions, type TrainOptions, type TrainSettings } from './options.js';
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
  /** Once the model is ready, before the first step (startStep: 0, or the step a resumed run continues from). */
  onStart?: (model: LlamaModel, tokenizer: Tokenizer, startStep: number) => void | Promise<void>;
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
 * Train (or resume) a model on shards; the caller owns the returned model. Everything is checked
 * before the run directory is made, so a run that cannot start leaves nothing behind.
 */
export async function train(settings: TrainSettings, hooks: TrainHooks = {}): Promise<TrainResult> {
  const o = resolveTrainOptions(settings);
  const checkpoint = o.resume ? latestCheckpoint(o.out) : null;
  if (o.resume && !checkpoint) throw new Error(`--resume: ${existsSync(o.out) ? `${o.out} has no step-NNNNNN checkpoint` : `${o.out} does not exist`}, expected a run directory to resume from`);
  if (!o.resume && existsSync(join(o.out, 'metrics.jsonl'))) throw new Error(`${o.out}: already holds a run (metrics.jsonl); pass --resume to continue it or choose another --out`);
  const stream = new TokenStream(o.data, 'train');
  const valStream = stream.index.val.length > 0 ? new TokenStream(o.data, 'val') : null;
  try {
    return await run(o, checkpoint, stream, valStream, hooks);
  } finally {
    stream.close();
    valStream?.close();
  }
}

/** The run itself, once the shards are open: check what depends on them, then set up and step. */
async function run(o: TrainOptions, checkpoint: string | null, stream: TokenStream, valStream: TokenStream | null, hooks: TrainHooks): Promise<TrainResult> {
  const metricsFile = join(o.out, 'metrics.jsonl');
  if (!checkpoint && o.config.vocabSize !== stream.index.vocabSize) throw new Error(`${o.data}: vocabulary of ${stream.index.vocabSize} tokens, but the model's vocabSize is ${o.config.vocabSize}`);
  const loaded = checkpoint ? loadCheckpoint(checkpoint) : null;
  const state: TrainState = loaded?.state ?? { step: 0, tokens: 0, adamT: 0, seed: o.seed, data: { epoch: 0, cursor: 0 } };
  const maxSeq = loaded?.model.config.maxSeq ?? o.config.maxSeq;
  let loader: BatchLoader;
  try {
    if (o.seq > maxSeq) throw new Error(`--seq: ${o.seq}, longer than the model's maxSeq ${maxSeq}`);
    loader = new BatchLoader(stream, o.batch, o.seq, state.seed); // fails when the data is too small
    loader.seek(state.data);
  } catch (err) {
    loaded?.model.dispose();
    throw err;
  }
  // A small val split may hold fewer windows than a batch: validate on smaller batches, or not at all.
  const valBatch = valStream ? Math.min(o.batch, Math.floor((valStream.length - 1) / o.seq)) : 0;
  if (o.evalEvery > 0 && valBatch < 1) console.warn(`train: ${o.data} has no validation windows of ${o.seq + 1} tokens; validation is off`);
  const model = loaded?.model ?? LlamaModel.create(o.config, o.seed);
  const tokenizer = loaded?.tokenizer ?? loadTokenizer(o.data);
  const optimizer = new AdamW(model.trainableParams(), { weightDecay: o.weightDecay });
  if (loaded) {
    loaded.restoreOptimizer(optimizer);
    if (state.seed !== o.seed) console.warn(`train: resuming with the checkpoint's data seed ${state.seed} (--seed ${o.seed} applies to new runs)`);
    keepMetricsUpTo(metricsFile, state.step);
  } else {
    mkdirSync(o.out, { recursive: true });
  }

  const schedule = { lr: o.lr, warmup: o.warmup, steps: o.steps, minLr: o.minLr };
  const tokensPerStep = o.batch * o.seq * o.accum;
  const history: StepMetrics[] = [];
  const startStep = state.step;
  const save = () => saveCheckpoint(o.out, model, optimizer, { ...state, adamT: optimizer.t, data: loader.position }, tokenizer);
  const validating = o.evalEvery > 0 && valBatch >= 1;
  const validate = () => evaluate(model, new BatchLoader(valStream!, valBatch, o.seq, 0, false), o.evalBatches);
  const initialValLoss = validating && startStep === 0 ? validate() : undefined;
  await hooks.onStart?.(model, tokenizer, startStep);
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
  return { model, tokenizer, history, stopped, startStep, initialValLoss };
}

/** On resume, forget metrics logged after the checkpoint (those steps run again). */
function keepMetricsUpTo(file: string, step: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8').split('\n').filter((line) => line !== '' && (JSON.parse(line) as StepMetrics).step <= step);
  writeFileAtomic(file, kept.map((l) => `${l}\n`).join(''));
}
