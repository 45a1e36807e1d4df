// The training loop, for pretraining and fine-tuning alike: batches from the data, the LR schedule, a
// step, and around it what a long run needs — metrics.jsonl (and an onStep hook for progress), periodic
// validation, checkpoints, exact resume, and stopping cleanly.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModelDir, readModelConfig, saveModelDir } from '../io/model-dir.js';
import { saveAdapter } from '../io/peft.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { LoraAdapter } from '../model/lora.js';
import type { BatchSource } from '../data/loader.js';
import { SftLoader } from '../data/sft.js';
import { openTrainingData, type TrainingData } from '../data/training-data.js';
import { LlamaModel } from '../model/model.js';
import { loadTokenizer } from '../tokenizer/files.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { AdamW } from './adamw.js';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import { DPO_DEFAULTS, resolveTrainOptions, SFT_DEFAULTS, TRAIN_DEFAULTS, type TrainOptions, type TrainSettings } from './options.js';
import { languageModelling } from './objective.js';
import { dpoObjective, referenceLogProbs } from './objectives/dpo.js';
import { cosineLr } from './schedule.js';
import { checkRanksAgree, nextMicroBatches } from './data-parallel.js';
import { trainSteps } from './recorded-step.js';
import { evaluate } from './step.js';

/** One line of metrics.jsonl. */
export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  tokens: number;
  tok_s: number;
  grad_norm: number;
  val_loss?: number;
  /** What the objective reports (DPO: TRL's rewards/… and logps/…), and val_… of each on validation steps. */
  [metric: string]: number | undefined;
}

/** Hooks for notebooks and the CLI. */
export interface TrainHooks {
  /** Once the model is ready, before the first step (startStep: 0, or the step a resumed run continues from; options: every setting resolved). */
  onStart?: (model: LlamaModel, tokenizer: Tokenizer, startStep: number, options: TrainOptions) => void | Promise<void>;
  /** DPO, before training: the reference's pass over a split's examples (done of total). */
  onReference?: (split: 'train' | 'val', done: number, total: number) => void;
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
  /** And what the objective reported on it (DPO: the reward metrics). */
  initialValMetrics?: Record<string, number>;
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
    const defaults = { pretraining: TRAIN_DEFAULTS, sft: SFT_DEFAULTS, dpo: DPO_DEFAULTS }[data.kind];
    const o = resolveTrainOptions({ ...settings, config }, defaults, data.preparedSeq);
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
    if (data.kind === 'dpo') data.reference = referenceFor(o, checkpoint, loaded?.model, data, hooks);
    loader = data.loader('train', o.batch, o.seq, state.seed, true); // fails when the data is too small
    loader.seek(state.data);
  } catch (err) {
    loaded?.model.dispose();
    throw err;
  }
  // A small val split may hold fewer rows than a batch: validate on smaller batches, or not at all.
  const valBatch = Math.min(o.batch, data.rows('val', o.seq));
  if (o.evalEvery > 0 && valBatch < 1) console.warn(`train: ${o.data} has no validation ${data.kind === 'pretraining' ? `windows of ${o.seq + 1} tokens` : 'examples'}; validation is off`);
  const objective = data.kind === 'dpo' ? dpoObjective(o.dpo) : languageModelling;
  // Data-parallel: every rank trains, rank 0 alone validates and writes (the replicas are equal).
  const sync = o.sync ?? null;
  const leader = !sync || sync.rank === 0;
  const model = loaded?.model ?? LlamaModel.create(o.config, o.seed);
  // Quantized projections cannot train; an adapter on top of them can (QLoRA).
  if (model.quantization && !o.lora) {
    model.dispose();
    throw new Error(`--model: ${o.init} is quantized (${model.quantization}): train a LoRA adapter on it (--lora <rank>), or fine-tune the float model it was made from`);
  }
  // A LoRA run freezes the model and trains an adapter (a resumed one came back with its checkpoint).
  if (o.lora && !model.adapter) LoraAdapter.create(model, o.lora, o.seed);
  const tokenizer = loaded?.tokenizer ?? loadTokenizer(o.data);
  const optimizer = new AdamW(model.trainableParams(), { weightDecay: o.weightDecay });
  if (loaded?.restoreOptimizer) {
    loaded.restoreOptimizer(optimizer);
    if (state.seed !== o.seed) console.warn(`train: resuming with the checkpoint's data seed ${state.seed} (--seed ${o.seed} applies to new runs)`);
    if (leader) keepMetricsUpTo(metricsFile, state.step);
  } else {
    mkdirSync(o.out, { recursive: true });
    if (data.reference && leader) writeReference(o.out, data.reference);
  }

  if (sync) {
    const parameters = [...model.trainableParams().values()].reduce((n, v) => n + v.size, 0);
    checkRanksAgree(sync, { step: state.step, steps: o.steps, batch: o.batch, seq: o.seq, accum: o.accum, 'trainable parameters': parameters });
  }
  const schedule = { lr: o.lr, warmup: o.warmup, steps: o.steps, minLr: o.minLr };
  const history: StepMetrics[] = [];
  const startStep = state.step;
  const save = () => {
    if (leader) saveCheckpoint(o.out, model, optimizer, { ...state, adamT: optimizer.t, data: loader.position }, tokenizer);
  };
  const validating = leader && o.evalEvery > 0 && valBatch >= 1;
  const validate = () => evaluate(model, data.loader('val', valBatch, o.seq, 0, false), o.evalBatches, objective);
  const initial = validating && startStep === 0 ? validate() : undefined;
  await hooks.onStart?.(model, tokenizer, startStep, o);
  let stopped = false;
  const steps = trainSteps(model, optimizer, { batch: loader.batch, maxNorm: o.clip, objective, sync }, o.cudaGraph);
  while (state.step < o.steps) {
    const started = performance.now();
    const lr = cosineLr(state.step, schedule);
    const micro = nextMicroBatches(loader, o.accum, sync);
    const { loss, gradNorm, metrics: reported, tokens } = steps.run(micro, lr);
    if (!Number.isFinite(loss)) throw new Error(`train: loss is ${loss} at step ${state.step + 1}; lower --lr or check the data`);
    state.step++;
    state.tokens += tokens;
    const metrics: StepMetrics = {
      step: state.step, loss, lr, tokens: state.tokens,
      tok_s: Math.round(tokens / ((performance.now() - started) / 1000)), grad_norm: gradNorm, ...reported,
    };
    if (validating && (state.step % o.evalEvery === 0 || state.step === o.steps)) {
      const val = validate();
      metrics.val_loss = val.loss;
      for (const [name, value] of Object.entries(val.metrics)) metrics[`val_${name}`] = value;
    }
    if (leader) appendFileSync(metricsFile, `${JSON.stringify(metrics)}\n`);
    history.push(metrics);
    await hooks.onStep?.(metrics);
    // Let the event loop run (a signal handler, a notebook's plot update) before the next step.
    await new Promise((resolve) => setImmediate(resolve));
    if (o.saveEvery > 0 && state.step % o.saveEvery === 0) save();
    // Data-parallel: stop when any rank is asked to — all after the same step, or the others would wait for it forever.
    const stopHere = hooks.shouldStop?.() ?? false;
    if ((sync ? sync.meanValues([stopHere ? 1 : 0])[0]! > 0 : stopHere) && state.step < o.steps) {
      save();
      stopped = true;
      break;
    }
  }
  if (!stopped && leader) {
    if (state.step !== startStep && !(o.saveEvery > 0 && state.step % o.saveEvery === 0)) save();
    if (model.adapter) saveAdapter(model.adapter, join(o.out, 'final'), { baseModel: o.init, tokenizer });
    else saveModelDir(model, join(o.out, 'final'), { tokenizer, dtype: o.saveDtype });
  }
  steps.dispose();
  optimizer.dispose();
  return { model, tokenizer, history, stopped, startStep, initialValLoss: initial?.loss, initialValMetrics: initial?.metrics };
}

/** On resume, forget metrics logged after the checkpoint (those steps run again). */
function keepMetricsUpTo(file: string, step: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8').split('\n').filter((line) => line !== '' && (JSON.parse(line) as StepMetrics).step <= step);
  writeFileAtomic(file, kept.map((l) => `${l}\n`).join(''));
}

/**
 * DPO's reference log-probabilities for both splits: read back on resume; otherwise one pass of the
 * reference model — `ref` when given, else the model training starts from — over every example.
 */
function referenceFor(o: TrainOptions, checkpoint: string | null, start: LlamaModel | undefined, data: TrainingData, hooks: TrainHooks): Record<'train' | 'val', Float32Array> {
  const file = join(o.out, REFERENCE_FILE);
  if (checkpoint) {
    const { tensors } = readSafetensors(file);
    return { train: tensors.get('train')!.values, val: tensors.get('val')!.values };
  }
  if (!start) throw new Error(`${o.data}: DPO data, but no model to start from; give init (--model), the model to align`);
  const reference = o.ref ? loadModelDir(o.ref).model : start;
  try {
    const pass = (split: 'train' | 'val') => {
      const examples = data.examples![split];
      if (examples.length === 0) return new Float32Array(0);
      const rows = Math.min(2 * o.batch, examples.length);
      return referenceLogProbs(reference, new SftLoader(examples, rows, o.seq, 0, false), examples.length, (done) => hooks.onReference?.(split, done, examples.length));
    };
    return { train: pass('train'), val: pass('val') };
  } finally {
    if (reference !== start) reference.dispose();
  }
}

/** Where a DPO run keeps its reference log-probabilities (so that a resumed run needs no reference model). */
const REFERENCE_FILE = 'reference-logps.safetensors';

function writeReference(out: string, reference: Record<'train' | 'val', Float32Array>): void {
  writeSafetensors(join(out, REFERENCE_FILE), new Map(Object.entries(reference).map(([split, values]) => [split, { shape: [values.length], values }])));
}
