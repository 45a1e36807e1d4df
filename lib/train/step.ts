// One optimizer step: forward and backward of an objective's loss over each micro-batch (gradient
// accumulation sums their gradients), in data-parallel training the mean over the ranks, clip by the
// global norm, then AdamW. Also the validation loss.
import * as tf from '@tensorflow/tfjs';
import type { Batch, BatchSource } from '../data/loader.js';
import type { LlamaModel } from '../model/model.js';
import type { AdamW, StepSize } from './adamw.js';
import { variableGradients } from './backprop.js';
import { clipScale, globalNorm } from './clip.js';
import type { RankSync } from './data-parallel.js';
import { languageModelling, type BatchTensors, type Objective } from './objective.js';

/** What a step measured. */
export interface StepResult {
  /** Mean loss over the micro-batches. */
  loss: number;
  /** Global norm of the (averaged) gradient before clipping. */
  gradNorm: number;
  /** What the objective reported, each the mean over the micro-batches (empty for plain language modelling). */
  metrics: Record<string, number>;
  /** Positions processed (SFT batches vary in width), by every rank together. */
  tokens: number;
}

/** A batch of `batch` rows as tensors: inputs and targets [B, T] int32, its weights [B, T] and reference log-probabilities [B] when it has them. */
export function batchTensors(b: Batch, batch: number): BatchTensors {
  const shape: [number, number] = [batch, b.inputs.length / batch];
  const tensors: BatchTensors = { inputs: tf.tensor2d(b.inputs, shape, 'int32'), targets: tf.tensor2d(b.targets, shape, 'int32') };
  if (b.weights) tensors.weights = tf.tensor2d(b.weights, shape);
  if (b.reference) tensors.reference = tf.tensor1d(b.reference);
  return tensors;
}

/** Collects an objective's reported metrics over micro-batches: the report callback, and the means. */
export class MetricSums {
  private readonly pending: [string, tf.Scalar][] = [];

  /** Keep the scalar past the tidy scope it was made in; read once the step's work is queued. */
  readonly report = (name: string, value: tf.Scalar): void => {
    this.pending.push([name, tf.keep(value)]);
  };

  /** The mean of each name's values over `count` micro-batches (reads them: waits for the GPU), freeing them. */
  means(count: number): Record<string, number> {
    const sums = new Map<string, number>();
    for (const [name, value] of this.pending.splice(0)) {
      sums.set(name, (sums.get(name) ?? 0) + value.dataSync()[0]!);
      value.dispose();
    }
    return Object.fromEntries([...sums].map(([name, sum]) => [name, sum / count]));
  }
}

/** What the micro-batches of a step give before the update: summed gradients, and the loss and metrics, still on the device. */
export interface Gradients {
  /** Per trainable parameter, the sum of its gradients over the micro-batches. */
  sum: Map<string, tf.Tensor>;
  /** The sum of the micro-batches' losses (a tensor: reading it would wait for the GPU). */
  lossSum: tf.Scalar;
  /** The objective's reported metrics, read by their means(). */
  metrics: MetricSums;
}

/**
 * Forward and backward of `objective` over micro-batches already tensors: the gradients summed over
 * them (gradient accumulation), and their losses and metrics, not yet read. `seedOf(i)` seeds
 * micro-batch i's dropout masks (LoRA), so that a resumed run draws the same ones.
 */
export function accumulateGradients(model: LlamaModel, micro: BatchTensors[], objective: Objective, seedOf: (i: number) => number): Gradients {
  // Only the trainable parameters get gradients: frozen ones (LoRA's base) cost no backward into them.
  const params = model.trainableParams();
  const names = new Map([...params].map(([name, v]) => [v.name, name]));
  const sum = new Map<string, tf.Tensor>();
  const metrics = new MetricSums();
  let lossSum: tf.Scalar | null = null;
  for (const [i, tensors] of micro.entries()) {
    model.training = { seed: seedOf(i) };
    let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
    try {
      result = variableGradients(() => objective.loss(model, tensors, metrics.report), [...params.values()]);
    } finally {
      model.training = null;
    }
    const { value, grads } = result;
    const previousLoss: tf.Scalar | null = lossSum;
    lossSum = previousLoss ? tf.add<tf.Scalar>(previousLoss, value) : value;
    if (previousLoss) tf.dispose([previousLoss, value]);
    for (const [variableName, g] of Object.entries(grads)) {
      const name = names.get(variableName)!;
      const previous = sum.get(name);
      sum.set(name, previous ? tf.add(previous, g) : g);
      if (previous) tf.dispose([previous, g]);
    }
  }
  return { sum, lossSum: lossSum!, metrics };
}

/** A step's work as queued on the device, not yet read: the gradient norm before clipping, the sum of the losses, the metrics. */
export interface QueuedStep {
  norm: tf.Scalar;
  lossSum: tf.Scalar;
  metrics: MetricSums;
}

/** What a step needs besides its micro-batches: how to update, and what to minimise. */
export interface StepSettings {
  /** Rows a micro-batch. */
  batch: number;
  /** Clip the gradient's global norm to this (0: no clipping). */
  maxNorm: number;
  objective: Objective;
  /** Data-parallel training: this rank's share of the ranks' exchange; null alone. */
  sync: RankSync | null;
}

/**
 * Queue one update over micro-batches already tensors: forward and backward of each, in data-parallel
 * training the mean over the ranks, the clipping factor, then AdamW with step size `size` (from the
 * device tensor `onDevice` when given: a recorded step's). Nothing is read: the host queues the whole
 * step without waiting for the GPU.
 */
export function queueStep(model: LlamaModel, optimizer: AdamW, micro: BatchTensors[], size: StepSize, s: StepSettings, seedOf: (i: number) => number, onDevice?: tf.Tensor1D): QueuedStep {
  const { sum, lossSum, metrics } = accumulateGradients(model, micro, s.objective, seedOf);
  if (s.sync) s.sync.meanGradients(sum);
  // Sum of micro-batch gradients → their mean (1/accum), then clipped: one scale factor for AdamW, on the device.
  const norm = tf.tidy(() => tf.div(globalNorm([...sum.values()]), micro.length) as tf.Scalar);
  const scale = tf.tidy(() => tf.div(clipScale(norm, s.maxNorm), micro.length) as tf.Scalar);
  optimizer.apply(sum, size, scale, onDevice);
  tf.dispose([...sum.values(), scale]);
  return { norm, lossSum, metrics };
}

/**
 * The dropout seed of micro-batch i of the update after optimizer.t's: numbered by update and
 * micro-batch across all ranks, as one process with every micro-batch would draw them.
 */
export function dropoutSeeds(optimizer: AdamW, micro: number, sync: RankSync | null): (i: number) => number {
  const [perStep, first, t] = [micro * (sync?.worldSize ?? 1), micro * (sync?.rank ?? 0), optimizer.t];
  return (i) => t * perStep + first + i;
}

/** A step's figures from its read values: the loss the mean over the micro-batches, then, with sync, everything the mean over the ranks. */
export function stepResult(lossSum: number, gradNorm: number, reported: Record<string, number>, micro: Batch[], sync: RankSync | null): StepResult {
  let loss = lossSum / micro.length;
  let metrics = reported;
  let tokens = micro.reduce((n, b) => n + b.inputs.length, 0);
  if (sync) {
    const names = Object.keys(metrics); // the same objective reports the same names, in the same order, on every rank
    const [meanLoss, meanTokens, ...means] = sync.meanValues([loss, tokens, ...names.map((n) => metrics[n]!)]);
    loss = meanLoss!;
    tokens = Math.round(meanTokens! * sync.worldSize);
    metrics = Object.fromEntries(names.map((n, i) => [n, means[i]!]));
  }
  return { loss, gradNorm, metrics, tokens };
}

/**
 * Forward, backward and update over `micro` batches of `batch` rows with learning rate `lr`, minimising
 * `objective`; with `sync`, over this rank's micro-batches, the gradients and figures then averaged over
 * the ranks (each rank's micro-batches being as many, the mean of their means is the step's mean).
 * The host queues the whole step before it reads anything — the loss, the metrics and the gradient
 * norm are read at the end — so the GPU never idles mid-step while the host waits for a number.
 * (lib/train/recorded-step.ts replays the same work from a CUDA graph.)
 */
export function trainStep(model: LlamaModel, optimizer: AdamW, micro: Batch[], batch: number, lr: number, maxNorm: number, objective: Objective = languageModelling, sync: RankSync | null = null): StepResult {
  const tensors = micro.map((b) => batchTensors(b, batch));
  let queued: QueuedStep;
  try {
    const seedOf = dropoutSeeds(optimizer, micro.length, sync);
    queued = queueStep(model, optimizer, tensors, optimizer.advance(lr), { batch, maxNorm, objective, sync }, seedOf);
  } finally {
    tf.dispose(tensors.flatMap((t) => Object.values(t)));
  }
  // Now read what the step measured (this waits for the GPU to finish the step).
  const [gradNorm, lossSum] = [queued.norm.dataSync()[0]!, queued.lossSum.dataSync()[0]!];
  tf.dispose([queued.norm, queued.lossSum]);
  return stepResult(lossSum, gradNorm, queued.metrics.means(micro.length), micro, sync);
}

/** Mean of `objective`'s loss and reported metrics over the loader's next `batches` batches (no gradients). */
export function evaluate(model: LlamaModel, loader: BatchSource, batches: number, objective: Objective = languageModelling): { loss: number; metrics: Record<string, number> } {
  const metrics = new MetricSums();
  let total = 0;
  for (let i = 0; i < batches; i++) {
    const tensors = batchTensors(loader.next(), loader.batch);
    total += tf.tidy(() => objective.loss(model, tensors, metrics.report).dataSync()[0]!);
    tf.dispose(Object.values(tensors));
  }
  return { loss: total / batches, metrics: metrics.means(batches) };
}
