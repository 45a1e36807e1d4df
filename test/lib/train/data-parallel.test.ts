// Data-parallel training without several GPUs: the ranks from torchrun's variables, how a step's
// micro-batches are shared out, a rank's step against one process with all the micro-batches, the NCCL
// id's rendezvous over TCP, and the launcher's watchdog. (NCCL itself: the GPU suite, test/gpu/nccl.test.ts.)
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { freePort, launchRanks, withoutGpusFlag } from '../../../lib/cli/launch.js';
import type { Batch, BatchSource, LoaderPosition } from '../../../lib/data/loader.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { Rng } from '../../../lib/rng.js';
import { AdamW } from '../../../lib/train/adamw.js';
import { checkRanksAgree, nextMicroBatches, ranksFromEnv, type RankSync } from '../../../lib/train/data-parallel.js';
import { languageModelling } from '../../../lib/train/objective.js';
import { shareUniqueId } from '../../../lib/train/rendezvous.js';
import { accumulateGradients, batchTensors, trainStep } from '../../../lib/train/step.js';

await initBackend('cpu', { quiet: true });

describe('ranks from torchrun variables', () => {
  const env = { RANK: '1', WORLD_SIZE: '4', LOCAL_RANK: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500' };

  it('reads them, or gives null when WORLD_SIZE is unset (one process)', () => {
    expect(ranksFromEnv(env)).toEqual({ rank: 1, worldSize: 4, localRank: 1, masterAddr: '127.0.0.1', masterPort: 29500 });
    expect(ranksFromEnv({ RANK: '3' })).toBeNull();
  });

  it('names the variable that is missing or wrong', () => {
    expect(() => ranksFromEnv({ ...env, RANK: '4' })).toThrow('RANK: "4", expected a whole number from 0 to 3 (WORLD_SIZE is set)');
    expect(() => ranksFromEnv({ ...env, WORLD_SIZE: 'two' })).toThrow('WORLD_SIZE: "two", expected a whole number from 1 to 1024');
    expect(() => ranksFromEnv({ ...env, LOCAL_RANK: undefined })).toThrow('LOCAL_RANK: not set, expected a whole number from 0 to 1023 (WORLD_SIZE is set)');
    expect(() => ranksFromEnv({ ...env, MASTER_ADDR: '' })).toThrow('MASTER_ADDR: not set, expected the host of rank 0');
    expect(() => ranksFromEnv({ ...env, MASTER_PORT: '70000' })).toThrow('MASTER_PORT: "70000", expected a whole number from 1 to 65535');
  });
});

/** Batch i holds the number i; skipBatch() moves past one without reading it. */
class CountingSource implements BatchSource {
  readonly batch = 1;
  position: LoaderPosition = { epoch: 0, cursor: 0 };
  read = 0;
  seek(position: LoaderPosition): void {
    this.position = { ...position };
  }
  next(): Batch {
    this.read++;
    return { inputs: Int32Array.of(this.position.cursor++), targets: Int32Array.of(0) };
  }
  skipBatch(): void {
    this.position.cursor++;
  }
}

describe('sharing a step out between ranks', () => {
  it('rank r of N takes micro-batches r·accum … r·accum + accum − 1 of the N·accum, reading only those; all end at the same position', () => {
    const taken = [0, 1, 2].map((rank) => {
      const source = new CountingSource();
      const steps = [0, 1].map(() => nextMicroBatches(source, 2, { rank, worldSize: 3 }).map((b) => b.inputs[0]!));
      expect(source.read).toBe(4);
      expect(source.position.cursor).toBe(12);
      return steps;
    });
    expect(taken).toEqual([[[0, 1], [6, 7]], [[2, 3], [8, 9]], [[4, 5], [10, 11]]]);
    const alone = new CountingSource();
    expect(nextMicroBatches(alone, 6, null).map((b) => b.inputs[0])).toEqual([0, 1, 2, 3, 4, 5]); // what one process with accum 6 takes
  });
});

describe('ranks that must agree', () => {
  /** Rank 1 of 2; rank 0's side of each all-reduce comes from `sent`, in order. */
  const rank1 = (sent: number[][]): RankSync => ({
    rank: 1, worldSize: 2,
    meanGradients: () => { throw new Error('not used'); },
    meanValues: (values) => {
      const theirs = sent.shift()!;
      return values.map((v, i) => (v + theirs[i]!) / 2);
    },
    dispose: () => {},
  });
  const figures = { step: 3000, steps: 9000, batch: 32, 'trainable parameters': 32_252_416 };

  it("go on when every rank has rank 0's figures", () => {
    expect(() => checkRanksAgree(rank1([Object.values(figures), [1]]), figures)).not.toThrow();
  });

  it('all fail, naming what differs, when one does not (a different checkpoint, another command line)', () => {
    expect(() => checkRanksAgree(rank1([Object.values(figures), [1]]), { ...figures, step: 2000 }))
      .toThrow('rank 1: the ranks do not run the same run (step 2000 where rank 0 has 3000); give every rank the same command line and run directory');
    expect(() => checkRanksAgree(rank1([Object.values(figures), [0]]), figures)).toThrow('rank 1: the ranks do not run the same run (another rank differs from rank 0)');
  });
});

describe('a rank\'s step', () => {
  const config = presetConfig('nano', { vocabSize: 64, hidden: 32, ffn: 48, layers: 2, heads: 4, kvHeads: 2, maxSeq: 32 });
  const rng = new Rng(5);
  const batch = () => ({ inputs: Int32Array.from({ length: 2 * 8 }, () => rng.int(64)), targets: Int32Array.from({ length: 2 * 8 }, () => rng.int(64)) });
  const [mine, theirs] = [batch(), batch()];

  /** Rank 0 of 2, the other rank simulated in process: its gradients and loss from its own replica and micro-batch. */
  class TwoRanks implements RankSync {
    readonly rank = 0;
    readonly worldSize = 2;
    private readonly other;
    constructor(replica: LlamaModel, micro: Batch[]) {
      const tensors = micro.map((b) => batchTensors(b, 2));
      this.other = accumulateGradients(replica, tensors, languageModelling, () => 0);
      tf.dispose(tensors.flatMap((t) => Object.values(t)));
    }
    meanGradients(grads: Map<string, tf.Tensor>): void {
      for (const [name, g] of grads) {
        grads.set(name, tf.div(tf.add(g, this.other.sum.get(name)!), 2));
        g.dispose();
      }
    }
    meanValues(values: readonly number[]): number[] {
      return [(values[0]! + this.other.lossSum.dataSync()[0]!) / 2, ...values.slice(1)];
    }
    dispose(): void {
      tf.dispose([...this.other.sum.values(), this.other.lossSum]);
    }
  }

  it('with its micro-batch, averaged with the other rank\'s, updates the weights as one process with both micro-batches does', () => {
    const [rank0, rank1, alone] = [LlamaModel.create(config, 9), LlamaModel.create(config, 9), LlamaModel.create(config, 9)];
    const sync = new TwoRanks(rank1, [theirs]);
    const [optRank, optAlone] = [new AdamW(rank0.params), new AdamW(alone.params)];
    const parallel = trainStep(rank0, optRank, [mine], 2, 1e-2, 0.5, languageModelling, sync);
    const single = trainStep(alone, optAlone, [mine, theirs], 2, 1e-2, 0.5);
    expect(parallel.loss).toBeCloseTo(single.loss, 6);
    expect(parallel.tokens).toBe(single.tokens); // both ranks' positions
    expect(parallel.gradNorm).toBeCloseTo(single.gradNorm, 5); // clipped to 0.5 in both: the same mean gradient
    for (const [name, v] of rank0.params) {
      const [a, b] = [v.dataSync() as Float32Array, alone.params.get(name)!.dataSync() as Float32Array];
      const worst = a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
      expect(worst, name).toBeLessThan(1e-6);
    }
    sync.dispose();
    [optRank, optAlone].forEach((o) => o.dispose());
    [rank0, rank1, alone].forEach((m) => m.dispose());
  });
});

describe('the rendezvous', () => {
  it("hands rank 0's id to every other rank over TCP, whichever starts first", async () => {
    const port = await freePort();
    const ranks = (rank: number) => ({ rank, worldSize: 3, localRank: rank, masterAddr: '127.0.0.1', masterPort: port });
    const id = Uint8Array.from({ length: 128 }, (_, i) => (i * 37) % 256);
    const late = new Promise<Uint8Array>((resolve) => setTimeout(() => resolve(shareUniqueId(ranks(0), () => id)), 300)); // rank 0 starts last
    const ids = await Promise.all([shareUniqueId(ranks(1), () => { throw new Error('only rank 0 makes the id'); }), shareUniqueId(ranks(2), () => id), late]);
    ids.forEach((got) => expect(Array.from(got)).toEqual(Array.from(id)));
  });

  it('says who is missing when a rank never comes', async () => {
    const port = await freePort();
    const ranks = (rank: number) => ({ rank, worldSize: 2, localRank: rank, masterAddr: '127.0.0.1', masterPort: port });
    await expect(shareUniqueId(ranks(0), () => new Uint8Array(128), 300)).rejects.toThrow(`rendezvous: 0 of the 1 other ranks fetched the NCCL id from 127.0.0.1:${port} within 0.3 s`);
    await expect(shareUniqueId(ranks(1), () => new Uint8Array(128), 300)).rejects.toThrow(`rendezvous: rank 1 could not get the NCCL id from rank 0 at 127.0.0.1:${port} within 0.3 s`);
  });
});

describe('the launcher', () => {
  const node = process.execPath;

  it('starts each rank with its variables and returns 0 when all succeed', async () => {
    const script = "const e = process.env; if (e.WORLD_SIZE !== '3' || e.RANK !== e.LOCAL_RANK || e.MASTER_ADDR !== '127.0.0.1' || !(+e.MASTER_PORT > 0)) process.exit(9)";
    expect(await launchRanks(3, node, ['-e', script], () => {})).toBe(0);
  });

  it('stops the other ranks when one fails, says which, and returns its exit code', async () => {
    const lines: string[] = [];
    const started = Date.now();
    const script = "if (process.env.RANK === '1') process.exit(3); setTimeout(() => {}, 60000)"; // rank 0 would wait a minute
    expect(await launchRanks(2, node, ['-e', script], (line) => lines.push(line))).toBe(3);
    expect(lines).toEqual(['tinyllm: rank 1 of 2 exited with code 3; stopping the other ranks']);
    expect(Date.now() - started).toBeLessThan(9_000);
  });

  it('passes the command line on without --gpus', () => {
    expect(withoutGpusFlag(['train', '--gpus', '4', '--data', 'd', '--gpus=2', '--steps', '5'])).toEqual(['train', '--data', 'd', '--steps', '5']);
  });

  it('`tinyllm sft --gpus 2` where there is no GPU, or as a rank already, fails with one line', () => {
    const sft = (env: NodeJS.ProcessEnv) => spawnSync(node, ['lib/cli/tinyllm.js', 'sft', '--model', 'datasets/models/chat', '--data', 'nowhere', '--out', 'nowhere', '--gpus', '2'], { encoding: 'utf8', env });
    const { WORLD_SIZE: _, ...env } = process.env;
    const noGpu = sft(env);
    expect(noGpu.status).toBe(1);
    expect(noGpu.stderr).toMatch(/^tinyllm: --gpus 2: no usable GPU \(.+\)\n$/);
    const rank = sft({ ...env, WORLD_SIZE: '2', RANK: '0', LOCAL_RANK: '0', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500' });
    expect(rank.stderr).toMatch(/^tinyllm: --gpus: this process is already a rank of a data-parallel run \(WORLD_SIZE is set\)/);
  });
});
