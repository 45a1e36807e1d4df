// RankSync over NCCL on the cuda backend: each rank's gradients are averaged across the ranks by
// all-reduce on the backend's stream (NCCL's `avg`), all of a step's in one group, which NCCL sends as
// few large transfers; a step's figures (loss, metrics, tokens, a stop request) go the same way in one
// small all-reduce. The stream orders it all with the kernels around it: no host synchronisation.
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../backend/cuda/backend.js';
import type { Handle } from '../backend/cuda/ffi/driver.js';
import { Nccl } from '../backend/cuda/ffi/nccl.js';
import type { Ranks, RankSync } from './data-parallel.js';
import { shareUniqueId } from './rendezvous.js';

export class NcclSync implements RankSync {
  readonly rank: number;
  readonly worldSize: number;

  private constructor(ranks: Ranks, private readonly nccl: Nccl, private readonly comm: Handle, private readonly cuda: CudaBackend) {
    this.rank = ranks.rank;
    this.worldSize = ranks.worldSize;
  }

  /** Join the run's communicator (the cuda backend must be active, on this rank's GPU): blocks until every rank has joined. */
  static async open(ranks: Ranks): Promise<NcclSync> {
    if (tf.getBackend() !== 'cuda') throw new Error(`data-parallel training: rank ${ranks.rank} runs on the ${tf.getBackend()} backend; each rank needs its own GPU (cuda)`);
    const nccl = new Nccl();
    const id = await shareUniqueId(ranks, () => nccl.uniqueId());
    const comm = nccl.initRank(ranks.worldSize, id, ranks.rank);
    return new NcclSync(ranks, nccl, comm, tf.backend() as CudaBackend);
  }

  meanGradients(grads: Map<string, tf.Tensor>): void {
    const means = new Map<string, tf.Tensor>();
    this.nccl.groupStart();
    try { // (on an error the run ends: what was allocated goes with the process)
      for (const [name, g] of grads) {
        if (g.dtype !== 'float32') throw new Error(`data-parallel training: gradient of ${name} is ${g.dtype}, expected float32`);
        // Into a new tensor, not in place: a gradient's memory may be shared with another tensor (a reshape).
        const mean = tf.engine().makeTensorFromTensorInfo(this.cuda.allocate(g.shape, 'float32'), this.cuda);
        this.nccl.allReduce(this.comm, { send: this.cuda.pointer(g), recv: this.cuda.pointer(mean), count: g.size, type: 'float32', op: 'avg' }, this.cuda.stream);
        means.set(name, mean);
      }
    } finally {
      this.nccl.groupEnd();
    }
    for (const [name, mean] of means) {
      grads.get(name)!.dispose();
      grads.set(name, mean);
    }
  }

  meanValues(values: readonly number[]): number[] {
    if (values.length === 0) return [];
    const t = tf.tensor1d(values as number[], 'float32');
    try {
      this.nccl.allReduce(this.comm, { send: this.cuda.pointer(t), recv: this.cuda.pointer(t), count: values.length, type: 'float32', op: 'avg' }, this.cuda.stream);
      return Array.from(t.dataSync());
    } finally {
      t.dispose();
    }
  }

  /**
   * Leave the communicator. After a run that ended well every rank destroys it together (a collective);
   * after an error on this rank alone the others will never come, so it aborts instead of waiting.
   */
  dispose(failed = false): void {
    if (failed) this.nccl.abort(this.comm);
    else this.nccl.destroy(this.comm);
  }
}
