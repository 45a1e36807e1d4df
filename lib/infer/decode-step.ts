// One decoding step: the next-token logits of B sequences, one new id each, through the KV cache.
// Eagerly, tfjs dispatches every op of the model — some 300 kernels for a small model, each a few
// microseconds of JavaScript — which on a GPU costs far more than the kernels themselves. On cuda the
// step is therefore recorded once as a CUDA graph and replayed: per token, three small copies in (ids,
// cache rows, positions), one launch, one copy out: the logits, or — when every sequence just takes its
// most likely token (greedy) — only the ids the GPU picked. Everything that changes from step to step is
// read by the kernels from those inputs (RoPE by position, the cache write and attention), so one
// recording serves every step with B sequences.
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend, CudaGraph } from '../backend/cuda/backend.js';
import type { KvCache } from '../model/kv-cache.js';
import type { LlamaModel } from '../model/model.js';
import { floatValuesOf } from '../backend/read-values.js';

/** What a step gives: the logits [B·V], or (only where no row needs them) each row's most likely next id. */
export interface StepOutput {
  logits: Float32Array | null;
  mostLikely: Int32Array | null;
}

/** The next-token logits after one new id for each of `rows` of the cache, which then holds them. */
export interface DecodeStep {
  run(ids: readonly number[], rows: readonly number[], needLogits: boolean): StepOutput;
  /** How steps run: 'eager', 'cuda graph', or why a graph could not be made. */
  readonly mode: string;
  dispose(): void;
}

/** Every op dispatched by tfjs, each step. */
class EagerStep implements DecodeStep {
  constructor(private readonly model: LlamaModel, private readonly cache: KvCache, readonly mode = 'eager') {}

  run(ids: readonly number[], rows: readonly number[]): StepOutput {
    const logits = floatValuesOf(() => this.model.logitsAt(tf.tensor2d(ids as number[], [ids.length, 1], 'int32'), undefined, { cache: this.cache, cacheRows: rows }));
    return { logits, mostLikely: null };
  }

  dispose(): void {}
}

/** A recorded step for B sequences: its inputs (refilled before each replay) and its output. */
interface Recorded {
  graph: CudaGraph;
  ids: tf.Tensor2D; // [B, 1]
  rows: tf.Tensor1D; // [B]
  positions: tf.Tensor2D; // [B, 1]
  logits: tf.Tensor2D; // [B, V]
  mostLikely: tf.Tensor1D; // [B] int32
}

/** Steps replayed from a CUDA graph per batch size (recorded the first time a size comes). */
class CudaGraphStep implements DecodeStep {
  private readonly recorded = new Map<number, Recorded>();
  private readonly backend = tf.backend() as CudaBackend;
  private eager: EagerStep | null = null;

  constructor(private readonly model: LlamaModel, private readonly cache: KvCache) {}

  get mode(): string {
    return this.eager?.mode ?? 'cuda graph';
  }

  run(ids: readonly number[], rows: readonly number[], needLogits: boolean): StepOutput {
    if (this.eager) return this.eager.run(ids, rows);
    const positions = Int32Array.from(rows, (r) => this.cache.lengths[r]!);
    const step = this.recorded.get(rows.length);
    if (!step) return this.record(ids, rows, positions);
    this.backend.overwrite(step.ids, Int32Array.from(ids));
    this.backend.overwrite(step.rows, Int32Array.from(rows));
    this.backend.overwrite(step.positions, positions);
    step.graph.replay();
    this.cache.advance(rows, 1);
    return needLogits ? { logits: step.logits.dataSync() as Float32Array, mostLikely: null } : { logits: null, mostLikely: step.mostLikely.dataSync() as Int32Array };
  }

  /** Run this step for real (compiling its kernels, setting up cuBLAS), then record it for the next ones. */
  private record(ids: readonly number[], rows: readonly number[], positions: Int32Array): StepOutput {
    const B = rows.length;
    const inputs = {
      ids: tf.tensor2d(Int32Array.from(ids), [B, 1], 'int32'),
      rows: tf.tensor1d(Int32Array.from(rows), 'int32'),
      positions: tf.tensor2d(positions, [B, 1], 'int32'),
    };
    // start: null — RoPE reads each row's position from the tensor, not a number fixed at recording.
    const forward = () => this.model.logitsAt(inputs.ids, undefined, { cache: this.cache, placement: { rows: inputs.rows, positions: inputs.positions, start: null } });
    const logits = tf.tidy(forward);
    const values = logits.dataSync() as Float32Array;
    const mostLikely = tf.zeros([B], 'int32') as tf.Tensor1D;
    try {
      const graph = this.backend.capture(`a decoding step of ${B} sequences`, () => tf.tidy(() => {
        const next = forward();
        this.backend.copyInto(logits, next);
        this.backend.copyInto(mostLikely, tf.argMax(next, -1));
      }));
      this.recorded.set(B, { graph, ...inputs, logits, mostLikely });
    } catch (err) {
      // Some model this cannot record (an op that reads back or uploads mid-step): decode it eagerly.
      tf.dispose([logits, mostLikely, ...Object.values(inputs)]);
      this.eager = new EagerStep(this.model, this.cache, `eager (no CUDA graph: ${(err as Error).message})`);
    }
    this.cache.advance(rows, 1);
    return { logits: values, mostLikely: null };
  }

  dispose(): void {
    for (const step of this.recorded.values()) {
      step.graph.dispose();
      tf.dispose([step.ids, step.rows, step.positions, step.logits, step.mostLikely]);
    }
    this.recorded.clear();
  }
}

/** Whether decoding on cuda replays CUDA graphs (default) — TINYLLM_CUDA_GRAPHS=0 turns them off. */
const cudaGraphsEnabled = (): boolean => process.env.TINYLLM_CUDA_GRAPHS !== '0';

/** The decoding step for `model` with `cache` on the active backend. */
export function decodeStep(model: LlamaModel, cache: KvCache): DecodeStep {
  return tf.getBackend() === 'cuda' && cudaGraphsEnabled() ? new CudaGraphStep(model, cache) : new EagerStep(model, cache);
}
