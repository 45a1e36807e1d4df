// Data-parallel training: N processes (ranks), one GPU each, every one holding the whole model. A step's
// batch is split between them; each computes the gradients of its part, the ranks average their
// gradients (an all-reduce), and every rank makes the same update — so the replicas stay equal, and N
// ranks of `accum` micro-batches train exactly as one process with N × accum micro-batches would (the
// same data in the same order, up to the order of floating-point sums). Which rank a process is comes
// from torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), which
// `tinyllm train --gpus N` sets for the processes it starts.
import type * as tf from '@tensorflow/tfjs';
import type { Batch, BatchSource } from '../data/loader.js';

/** Where this process stands in a data-parallel run. */
export interface Ranks {
  /** 0 … worldSize − 1; rank 0 writes metrics, checkpoints and the final model. */
  rank: number;
  worldSize: number;
  /** This process's GPU on its machine. */
  localRank: number;
  /** Where rank 0 hands out the NCCL id. */
  masterAddr: string;
  masterPort: number;
}

/** The ranks from torchrun's environment variables, or null when WORLD_SIZE is unset (one process). */
export function ranksFromEnv(env: NodeJS.ProcessEnv = process.env): Ranks | null {
  if (env.WORLD_SIZE === undefined) return null;
  const whole = (name: string, min: number, max: number): number => {
    const raw = env[name];
    const value = Number(raw);
    if (raw === undefined || raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`${name}: ${raw === undefined ? 'not set' : JSON.stringify(raw)}, expected a whole number from ${min} to ${max}${name === 'WORLD_SIZE' ? '' : ' (WORLD_SIZE is set)'}`);
    }
    return value;
  };
  const worldSize = whole('WORLD_SIZE', 1, 1024);
  const masterAddr = env.MASTER_ADDR ?? '';
  if (masterAddr.trim() === '') throw new Error('MASTER_ADDR: not set, expected the host of rank 0 (WORLD_SIZE is set)');
  return { rank: whole('RANK', 0, worldSize - 1), worldSize, localRank: whole('LOCAL_RANK', 0, 1023), masterAddr, masterPort: whole('MASTER_PORT', 1, 65535) };
}

/** How the ranks of a run agree with each other each step. */
export interface RankSync {
  readonly rank: number;
  readonly worldSize: number;
  /** Replace every gradient with its mean over the ranks (new tensors; the old ones are disposed). */
  meanGradients(grads: Map<string, tf.Tensor>): void;
  /** The mean over the ranks of each number (losses, metrics, flags). */
  meanValues(values: readonly number[]): number[];
  /** Leave the run; `failed`: this rank stops on an error, the others may never come. */
  dispose(failed?: boolean): void;
}

/**
 * This rank's micro-batches of the next step. A step is worldSize × accum micro-batches in the loader's
 * order; rank r takes micro-batches r·accum … r·accum + accum − 1 and skips the others' without reading
 * them. The loader's position counts them all, so a checkpoint resumes onto any number of ranks.
 */
export function nextMicroBatches(loader: BatchSource, accum: number, sync: Pick<RankSync, 'rank' | 'worldSize'> | null): Batch[] {
  const rank = sync?.rank ?? 0, worldSize = sync?.worldSize ?? 1;
  const mine: Batch[] = [];
  for (let i = 0; i < worldSize * accum; i++) {
    if (Math.floor(i / accum) === rank) mine.push(loader.next());
    else loader.skipBatch();
  }
  return mine;
}

/**
 * Every rank must run the same run — start from the same step (the same checkpoint), with the same
 * shape of step and the same model — or their all-reduces would not match and they would wait for each
 * other forever. Each rank compares `figures` with rank 0's; if any rank differs, all of them fail.
 */
export function checkRanksAgree(sync: RankSync, figures: Record<string, number>): void {
  const names = Object.keys(figures);
  const mine = names.map((n) => figures[n]!);
  // Rank 0's figures to every rank: the others send zeros, and the mean times the number of ranks is rank 0's.
  const rank0 = sync.meanValues(sync.rank === 0 ? mine : mine.map(() => 0)).map((v) => v * sync.worldSize);
  const differ = names.flatMap((n, i) => (Math.abs(mine[i]! - rank0[i]!) > 1e-6 * Math.max(1, Math.abs(mine[i]!)) ? [`${n} ${mine[i]} where rank 0 has ${Math.round(rank0[i]!)}`] : []));
  if (sync.meanValues([differ.length === 0 ? 1 : 0])[0] === 1) return;
  throw new Error(`rank ${sync.rank}: the ranks do not run the same run (${differ.length > 0 ? differ.join(', ') : 'another rank differs from rank 0'}); give every rank the same command line and run directory`);
}
