// Training steps replayed from a CUDA graph. A step of the 92m model is ~316 kernel launches, and the
// GPU idles a few microseconds between two of them while it takes the next from the queue (~0.75 ms of
// a 37.8 ms step on an H100, ~2.5 ms of 440m's 105). Recorded once as a graph (CudaBackend.capture), the
// same kernels run again with one driver call, the GPU holding the whole list, and the host does
// nothing but refill the batch and the step size: the GPU no longer waits on JavaScript, tfjs's
// bookkeeping or the garbage collector either.
//
// What a replay cannot change is fixed when it is recorded: shapes, kernel parameters, constants.
// So the step's inputs are tensors made once and refilled (the micro-batches, AdamW's learning rate
// and bias corrections: AdamW.apply's `onDevice`), and a step is recorded only where nothing else
// changes from one step to the next: plain language modelling (no per-step metrics), alone (no ranks
// to exchange with), the same micro-batch shapes as the step before. Anything else runs as trainStep
// does; so does a step whose recording fails (dropout draws host random numbers: the capture refuses
// host copies), with the reason in `mode`.
//
// Asked for (`tinyllm train --cuda-graph`), not the default: measured on an H100 at 92m, 440m and 1.5b
// (1.04×, 1.03× and 1.004× the eager step, the same losses to bf16's noise), but one earlier 1.5b run
// stalled, waiting on the GPU, for a reason not found (bench/README.md).
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend, CudaGraph } from '../backend/cuda/backend.js';
import type { Batch } from '../data/loader.js';
import type { LlamaModel } from '../model/model.js';
import { stepSizeValues, type AdamW } from './adamw.js';
import { languageModelling } from './objective.js';
import { batchTensors, dropoutSeeds, queueStep, stepResult, trainStep, type StepResult, type StepSettings } from './step.js';

/** Training steps with fixed settings: run(micro, lr) is one update. */
export interface TrainSteps {
  /** How steps run: 'eager', 'cuda graph', or why not a graph. */
  readonly mode: string;
  run(micro: Batch[], lr: number): StepResult;
  dispose(): void;
}

/** The steps of a run: with `cudaGraph`, replayed from a CUDA graph on cuda where the settings allow it; else trainStep's. */
export function trainSteps(model: LlamaModel, optimizer: AdamW, settings: StepSettings, cudaGraph: boolean): TrainSteps {
  const recordable = cudaGraph && tf.getBackend() === 'cuda' && settings.objective === languageModelling && settings.sync === null;
  if (recordable) return new RecordedSteps(model, optimizer, settings);
  const s = settings;
  return { mode: 'eager', run: (micro, lr) => trainStep(model, optimizer, micro, s.batch, lr, s.maxNorm, s.objective, s.sync), dispose: () => {} };
}

/** The shapes a step's micro-batches give its tensors: a recorded step replays for these alone. */
const shapeOf = (micro: Batch[]): string => micro.map((b) => `${b.inputs.length}${b.weights ? 'w' : ''}${b.reference ? 'r' : ''}`).join();

/** A micro-batch's arrays, or their tensors, in one order: inputs, targets, then weights and reference when it has them. */
function inOrder<T>(b: { inputs: T; targets: T; weights?: T; reference?: T }): T[] {
  return [b.inputs, b.targets, ...(b.weights ? [b.weights] : []), ...(b.reference ? [b.reference] : [])];
}

/** One update recorded as a CUDA graph, with the tensors its replays read and write. */
interface Recording {
  graph: CudaGraph;
  shape: string;
  /** The micro-batches' tensors, refilled before each replay. */
  inputs: tf.Tensor[];
  /** AdamW's [lr, correction1, correction2], refilled before each replay. */
  stepSize: tf.Tensor1D;
  /** Where a replay leaves the gradient norm and the sum of the losses. */
  norm: tf.Scalar;
  lossSum: tf.Scalar;
  /** The data of every variable the graph reads or updates in place, as it was recorded. */
  wrote: tf.DataId[];
}

/**
 * Steps on cuda: the first of a shape runs as trainStep does (compiling the kernels, setting up cuBLAS,
 * making the weights' bfloat16 copies), the second is recorded and replayed, and the later ones of the
 * same shape replay it.
 */
class RecordedSteps implements TrainSteps {
  mode = 'cuda graph';
  private recording: Recording | null = null;
  private lastShape = '';
  private failed = false;

  constructor(private readonly model: LlamaModel, private readonly optimizer: AdamW, private readonly settings: StepSettings) {}

  run(micro: Batch[], lr: number): StepResult {
    const shape = shapeOf(micro);
    const [previous, s] = [this.lastShape, this.settings];
    this.lastShape = shape;
    // A recording of another shape, or of weights since replaced, is dropped and this step runs eagerly
    // (making what the next recording needs: a new weight's bfloat16 copy); the next one is recorded.
    if (this.recording && (this.recording.shape !== shape || !this.unmoved(this.recording))) this.forget();
    else if (!this.recording && !this.failed && shape === previous) this.record(micro);
    if (!this.recording) return trainStep(this.model, this.optimizer, micro, s.batch, lr, s.maxNorm, s.objective, s.sync);
    const r = this.recording;
    const cuda = tf.backend() as CudaBackend;
    micro.flatMap((b) => inOrder<Int32Array | Float32Array>(b)).forEach((values, i) => cuda.overwrite(r.inputs[i]!, values));
    cuda.overwrite(r.stepSize, stepSizeValues(this.optimizer.advance(lr)));
    r.graph.replay();
    return stepResult(r.lossSum.dataSync()[0]!, r.norm.dataSync()[0]!, {}, micro, null);
  }

  /** Record the update over micro-batches of these shapes (their values come at the replay). */
  private record(micro: Batch[]): void {
    const cuda = tf.backend() as CudaBackend;
    const tensors = micro.map((b) => batchTensors(b, this.settings.batch));
    const [stepSize, norm, lossSum] = [tf.tensor1d([0, 0, 0]), tf.scalar(0), tf.scalar(0)];
    const seedOf = dropoutSeeds(this.optimizer, micro.length, null);
    const size = { lr: 0, correction1: 1, correction2: 1 }; // (read from stepSize on the device)
    try {
      const graph = cuda.capture('a training step', () => tf.tidy(() => {
        const queued = queueStep(this.model, this.optimizer, tensors, size, this.settings, seedOf, stepSize);
        cuda.copyInto(norm, queued.norm);
        cuda.copyInto(lossSum, queued.lossSum);
      }));
      const inputs = tensors.flatMap((t) => inOrder<tf.Tensor>(t));
      this.recording = { graph, shape: shapeOf(micro), inputs, stepSize, norm, lossSum, wrote: this.written().map((v) => v.dataId) };
    } catch (err) {
      tf.dispose([...tensors.flatMap((t) => inOrder<tf.Tensor>(t)), stepSize, norm, lossSum]);
      this.failed = true;
      this.mode = `eager (no CUDA graph: ${(err as Error).message})`;
    }
  }

  /** The variables the graph reads or writes in place: the model's weights (frozen ones too) and AdamW's. */
  private written(): tf.Variable[] {
    return [...this.model.params.values(), ...this.optimizer.tensors()];
  }

  /** Whether every variable still has the data the graph was recorded with (assign() replaces it: loading a checkpoint). */
  private unmoved(r: Recording): boolean {
    return this.written().every((v, i) => v.dataId === r.wrote[i]);
  }

  private forget(): void {
    const r = this.recording!;
    r.graph.dispose();
    tf.dispose([...r.inputs, r.stepSize, r.norm, r.lossSum]);
    this.recording = null;
  }

  dispose(): void {
    if (this.recording) this.forget();
  }
}
