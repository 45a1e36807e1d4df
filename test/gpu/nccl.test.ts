// GPU suite: the NCCL bindings on one GPU — a communicator of one rank, whose all-reduce leaves the
// data as it is (sum, mean, max), in place and out of place, alone and grouped, on the backend's
// stream; and NCCL's own error for a bad rank. (Several ranks need a machine with several GPUs.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../../lib/backend/cuda/backend.js';
import { Nccl, UNIQUE_ID_BYTES } from '../../lib/backend/cuda/ffi/nccl.js';
import { againstCpu, openGpu } from './gpu.js';

const gpu = openGpu();
/** NCCL, or why there is none (then these tests are skipped with that reason). */
function openNccl(): { nccl: Nccl; skip: false } | { nccl: null; skip: string } {
  if (gpu.skip) return { nccl: null, skip: gpu.skip };
  try {
    return { nccl: new Nccl(), skip: false };
  } catch (err) {
    return { nccl: null, skip: `no NCCL: ${(err as Error).message}` };
  }
}
const opened = openNccl();

describe('NCCL on one rank', { skip: opened.skip }, () => {
  againstCpu();
  const nccl = opened.nccl!;

  it('joins a communicator of one and all-reduces on the backend stream: sum, mean and max leave the data as it is', async () => {
    await tf.setBackend('cuda');
    const cuda = tf.backend() as CudaBackend;
    console.log(`  NCCL ${nccl.version()}`);
    const id = nccl.uniqueId();
    assert.equal(id.length, UNIQUE_ID_BYTES);
    assert.ok(id.some((b) => b !== 0), 'a unique id is not all zeros');
    const comm = nccl.initRank(1, id, 0);
    try {
      assert.deepEqual(nccl.describe(comm), { ranks: 1, rank: 0 });
      const values = [1.5, -2, 3.25, 1e-7, 65504];
      const x = tf.tensor1d(values);
      const into = tf.zeros([values.length]);
      const ids = tf.tensor1d([7, -3, 0], 'int32');
      nccl.allReduce(comm, { send: cuda.pointer(x), recv: cuda.pointer(x), count: values.length, type: 'float32', op: 'sum' }, cuda.stream);
      nccl.groupStart();
      nccl.allReduce(comm, { send: cuda.pointer(x), recv: cuda.pointer(into), count: values.length, type: 'float32', op: 'avg' }, cuda.stream);
      nccl.allReduce(comm, { send: cuda.pointer(ids), recv: cuda.pointer(ids), count: 3, type: 'int32', op: 'max' }, cuda.stream);
      nccl.groupEnd();
      assert.deepEqual(Array.from(await x.data()), Array.from(Float32Array.from(values)));
      assert.deepEqual(Array.from(await into.data()), Array.from(Float32Array.from(values)));
      assert.deepEqual(Array.from(await ids.data()), [7, -3, 0]);
      assert.equal(nccl.asyncError(comm), null);
      tf.dispose([x, into, ids]);
    } finally {
      nccl.destroy(comm);
    }
  });

  it('a rank outside the communicator, or an id of the wrong size, fails with the reason', () => {
    assert.throws(() => nccl.initRank(1, nccl.uniqueId(), 1), /^Error: nccl: ncclCommInitRank\(rank 1 of 1\) failed: invalid argument/);
    assert.throws(() => nccl.initRank(1, new Uint8Array(16), 0), /^Error: nccl: a unique id has 128 bytes, got 16$/);
  });
});
