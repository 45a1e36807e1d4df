// Training steps replayed from a CUDA graph (lib/train/recorded-step.ts) on the cuda backend over a
// recording driver (no GPU needed; the kernels compile with NVRTC): which step is recorded, what the host
// still copies before a replay, that the recording holds an eager step's kernels, and what a capture
// refuses because a replay would get it wrong. The values of replayed steps against eager ones are in
// the GPU suite (test/gpu/train.test.ts).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CudaBackend } from '../../../lib/backend/cuda/backend.js';
import type { Batch } from '../../../lib/data/loader.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LORA_TARGETS, LoraAdapter } from '../../../lib/model/lora.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { Rng } from '../../../lib/rng.js';
import { AdamW } from '../../../lib/train/adamw.js';
import { languageModelling } from '../../../lib/train/objective.js';
import { trainSteps } from '../../../lib/train/recorded-step.js';
import { trainStep } from '../../../lib/train/step.js';
import { leaveRecordingBackend, RecordingDriver, useRecordingBackend } from './recording-driver.js';

describe('training steps replayed from a CUDA graph (recording driver)', () => {
  const driver = new RecordingDriver();
  let cuda: CudaBackend;
  const config = presetConfig('nano', { vocabSize: 96 });
  const rng = new Rng(4);
  const batch = (B: number, T: number): Batch => ({ inputs: Int32Array.from({ length: B * T }, () => rng.int(96)), targets: Int32Array.from({ length: B * T }, () => rng.int(96)) });
  const settings = { batch: 2, maxNorm: 1, objective: languageModelling, sync: null };

  beforeAll(async () => {
    cuda = await useRecordingBackend(driver);
  });
  afterAll(leaveRecordingBackend);

  /** The uploads `f` makes: each one's values. */
  function uploadsOf(f: () => void): number[][] {
    const seen: number[][] = [];
    const upload = driver.upload.bind(driver);
    driver.upload = (...args: unknown[]) => void seen.push(Array.from(args[1] as Float32Array));
    try {
      f();
    } finally {
      driver.upload = upload;
    }
    return seen;
  }

  it('the second step of a shape is recorded, later ones replay it after refilling the batch and the step size alone; another shape runs eagerly', () => {
    const model = LlamaModel.create(config, 0);
    const adamw = new AdamW(model.params);
    const steps = trainSteps(model, adamw, settings, true);
    const before = { ...driver.graphs };
    const count = () => ({ recorded: driver.graphs.recorded - before.recorded, replayed: driver.graphs.replayed - before.replayed, destroyed: driver.graphs.destroyed - before.destroyed });

    const eagerFrom = driver.launches.length;
    steps.run([batch(2, 16)], 1e-3); // eager: compiles, makes what later steps reuse
    const eager = driver.launches.slice(eagerFrom).map((l) => l.kernel);
    const recordedFrom = driver.launches.length;
    steps.run([batch(2, 16)], 1e-3); // recorded, then replayed
    const recorded = driver.launches.slice(recordedFrom).map((l) => l.kernel);
    expect(count()).toEqual({ recorded: 1, replayed: 1, destroyed: 0 });
    expect(steps.mode).toBe('cuda graph');
    // The same kernels as an eager step; the constants an eager step copies from the host (tfjs's ones,
    // scalars) are fill kernels in the graph, so fills aside.
    const fillsAside = (kernels: string[]) => kernels.filter((k) => k !== 'fill');
    expect(fillsAside(recorded)).toEqual(fillsAside(eager));
    expect(recorded.filter((k) => k === 'fill').length).toBeGreaterThan(eager.filter((k) => k === 'fill').length);

    // A replay: the batch's inputs and targets, then [lr, 1 − β₁ᵗ, 1 − β₂ᵗ] of update t = 3; no kernel launched one by one.
    const next = batch(2, 16);
    const launched = driver.launches.length;
    const copies = uploadsOf(() => steps.run([next], 5e-4));
    expect(driver.launches.length).toBe(launched);
    expect(copies.length).toBe(3);
    expect(copies.slice(0, 2)).toEqual([Array.from(next.inputs), Array.from(next.targets)]);
    expect(copies[2]![0]).toBeCloseTo(5e-4, 9);
    expect(copies[2]![1]).toBeCloseTo(1 - 0.9 ** 3, 6);
    expect(copies[2]![2]).toBeCloseTo(1 - 0.95 ** 3, 6);
    expect(adamw.t).toBe(3);

    // Another shape: the recording is dropped and the step runs eagerly; the next of that shape is recorded.
    steps.run([batch(2, 8)], 1e-3);
    expect(count()).toEqual({ recorded: 1, replayed: 2, destroyed: 1 });
    steps.run([batch(2, 8)], 1e-3);
    expect(count()).toEqual({ recorded: 2, replayed: 3, destroyed: 1 });
    // A weight replaced (loading a checkpoint assigns new data): recorded again, not replayed onto freed memory.
    const [name, weight] = [...model.params].at(-1)!;
    weight.assign(tf.zerosLike(weight));
    steps.run([batch(2, 8)], 1e-3);
    expect(count(), name).toEqual({ recorded: 2, replayed: 3, destroyed: 2 });
    steps.run([batch(2, 8)], 1e-3);
    expect(count()).toEqual({ recorded: 3, replayed: 4, destroyed: 2 });
    steps.dispose();
    expect(count().destroyed).toBe(3);
    adamw.dispose();
    model.dispose();
  });

  it('LoRA with dropout is not recorded: its masks are host random numbers, which a capture refuses; the steps run eagerly and say why', () => {
    const model = LlamaModel.create(config, 0);
    LoraAdapter.create(model, { rank: 4, alpha: 8, dropout: 0.1, targetModules: Object.values(LORA_TARGETS) });
    const adamw = new AdamW(model.trainableParams());
    const steps = trainSteps(model, adamw, settings, true);
    const tensors = tf.memory().numTensors;
    for (let s = 0; s < 3; s++) steps.run([batch(2, 16)], 1e-3);
    expect(steps.mode).toMatch(/^eager \(no CUDA graph: cuda backend: copying \d+ host values to the GPU while capturing a training step/);
    expect(adamw.t).toBe(3);
    expect(tf.memory().numTensors).toBe(tensors); // the failed recording's tensors are gone
    steps.dispose();
    adamw.dispose();
    model.dispose();
  });

  it('a capture refuses host values that vary, freeing memory made before it, and memory still in use at its end', () => {
    const before = tf.tensor1d([1, 2, 3]);
    const capture = (f: () => void) => () => cuda.capture('a test', f);
    expect(capture(() => void tf.tensor1d([1, 2, 3]))).toThrow('cuda backend: copying 3 host values to the GPU while capturing a test as a CUDA graph');
    expect(capture(() => before.dispose())).toThrow('cuda backend: freeing memory made before capturing a test as a CUDA graph');
    expect(capture(() => void tf.ones([4]))).toThrow('cuda backend: 1 allocations made while capturing a test as a CUDA graph are still in use at its end');
    // A constant is a fill kernel, and what the work made and disposed is the graph's own memory.
    const launched = driver.launches.length;
    const graph = cuda.capture('a test', () => tf.tidy(() => void tf.add(before, tf.scalar(2))));
    expect(driver.launches.slice(launched).map((l) => l.kernel)).toEqual(['fill', 'Add']);
    graph.dispose();
    before.dispose();
  });

  it('asked for only, and for language modelling alone: other objectives, or ranks to exchange with, run eagerly', () => {
    const model = LlamaModel.create(config, 0);
    const adamw = new AdamW(model.params);
    expect(trainSteps(model, adamw, settings, false).mode).toBe('eager');
    expect(trainSteps(model, adamw, { ...settings, objective: { name: 'other', loss: languageModelling.loss } }, true).mode).toBe('eager');
    const sync = { rank: 0, worldSize: 1, meanGradients: () => {}, meanValues: (v: readonly number[]) => [...v], dispose: () => {} };
    expect(trainSteps(model, adamw, { ...settings, sync }, true).mode).toBe('eager');
    expect(trainSteps(model, adamw, settings, true).mode).toBe('cuda graph');
    // (trainStep itself is never recorded)
    const recorded = driver.graphs.recorded;
    for (let s = 0; s < 2; s++) trainStep(model, adamw, [batch(2, 16)], 2, 1e-3, 1);
    expect(driver.graphs.recorded).toBe(recorded);
    adamw.dispose();
    model.dispose();
  });
});
