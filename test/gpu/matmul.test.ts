// GPU suite: cuBLAS matrix products, reshapes that share data, and casts, against the cpu backend.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../../lib/backend/cuda/backend.js';
import { AdamW } from '../../lib/train/adamw.js';
import { againstCpu, assertClose, gpuBytes, onBoth, openGpu } from './gpu.js';

const gpu = openGpu();
/** Bytes the cuda backend holds (tfjs passes the backend's memory() figures through). */

describe('cuda matmul, reshape and cast match cpu', { skip: gpu.skip }, () => {
  againstCpu();

  // fp32 sums over k terms in a different order than cpu: relative error grows like √k · 2^-24.
  const cases: [string, number[], number[], boolean, boolean][] = [
    ['square', [64, 64], [64, 64], false, false],
    ['odd sizes', [37, 129], [129, 5], false, false],
    ['A transposed', [129, 37], [129, 5], true, false],
    ['B transposed', [37, 129], [5, 129], false, true],
    ['both transposed', [129, 37], [5, 129], true, true],
    ['batched', [3, 17, 33], [3, 33, 9], false, false],
    ['batch broadcast, as linear() uses it', [4, 3, 17, 33], [1, 1, 9, 33], false, true],
    ['a long inner dimension', [8, 4096], [4096, 8], false, false],
    ['empty', [0, 5], [5, 3], false, false],
    ['an empty inner dimension: zeros (a weight\'s gradient over zero rows)', [0, 4], [0, 3], true, false],
  ];
  for (const [label, sa, sb, ta, tb] of cases) {
    it(`BatchMatMul: ${label}`, async () => {
      const [[cpu], [cuda]] = await onBoth(() => tf.matMul(tf.randomNormal(sa, 0, 1, 'float32', 1), tf.randomNormal(sb, 0, 1, 'float32', 2), ta, tb));
      assertClose(cpu!, cuda!, label, 1e-4);
    });
  }

  // TF32 keeps 10 mantissa bits, bf16 7 (2^-8 relative per input); with unit-normal inputs and k = 129
  // the sums' relative error stays near √k · 2^-9 for bf16: allow 1e-2 and 3e-2 of the output scale (√k).
  for (const [precision, tol] of [['tf32', 1e-2], ['bf16', 3e-2]] as const) {
    it(`BatchMatMul in ${precision}`, async () => {
      const cuda = tf.findBackend('cuda') as CudaBackend;
      cuda.matmulPrecision = precision;
      try {
        const [[cpu], [gpu]] = await onBoth(() => tf.div(tf.matMul(tf.randomNormal([37, 129], 0, 1, 'float32', 1), tf.randomNormal([5, 129], 0, 1, 'float32', 2), false, true), Math.sqrt(129)));
        assertClose(cpu!, gpu!, precision, tol);
      } finally {
        cuda.matmulPrecision = 'fp32';
      }
    });
  }

  it('bf16: the kept bfloat16 copy of a weight follows AdamW\'s update in place, and goes with the tensor', async () => {
    const cuda = tf.findBackend('cuda') as CudaBackend;
    await tf.setBackend('cuda');
    cuda.matmulPrecision = 'bf16';
    try {
      // Every bf16 product reads kept bfloat16 copies of its operands.
      const x = tf.randomNormal([4096, 64], 0, 1, 'float32', 1);
      const w = tf.tidy(() => tf.variable(tf.randomNormal([64, 4096], 0, 1, 'float32', 2))); // (its own data: the initial tensor goes)
      const bytes = gpuBytes();
      const before = tf.matMul(x, w);
      assert.ok(gpuBytes() >= bytes + 4096 * 4096 * 4 + (2 * 4096 * 64) * 2, 'the product and the two kept copies');
      const adamw = new AdamW(new Map([['w', w]]));
      tf.tidy(() => adamw.update(new Map([['w', tf.onesLike(w)]]), 0.5, 1));
      const [after, fresh] = tf.tidy(() => [tf.matMul(x, w), tf.matMul(x, tf.add(w, 0))]); // (add: new data, no kept copy)
      assert.deepEqual(await after.data(), await fresh.data(), 'the product reads the updated weights');
      assert.ok(Math.abs((await before.data())[0]! - (await after.data())[0]!) > 1e-3, 'and they changed');
      adamw.dispose();
      tf.dispose([x, w, before, after, fresh]);
      assert.equal(gpuBytes(), bytes - 4096 * 64 * 4 * 2, 'copies freed with their tensors');
    } finally {
      cuda.matmulPrecision = 'fp32';
    }
  });

  it('Reshape and Identity share data; disposing one leaves the other', async () => {
    await tf.setBackend('cuda');
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const bytes = gpuBytes();
    const y = tf.reshape(x, [3, 2]);
    const z = tf.clone(y);
    assert.equal(gpuBytes(), bytes, 'no copy');
    x.dispose();
    y.dispose();
    assert.deepEqual(Array.from(await z.data()), [1, 2, 3, 4, 5, 6]);
    z.dispose();
    assert.equal(gpuBytes(), bytes - 24, 'freed with the last reference');
  });

  for (const [from, to] of [['float32', 'int32'], ['float32', 'bool'], ['int32', 'float32'], ['int32', 'bool'], ['bool', 'float32'], ['bool', 'int32']] as const) {
    it(`Cast ${from} -> ${to}`, async () => {
      const values = from === 'bool' ? [1, 0, 1, 1, 0] : [-2.7, -0.5, 0, 0.5, 3.9];
      const [[cpu], [cuda]] = await onBoth(() => tf.cast(tf.tensor(from === 'int32' ? values.map(Math.trunc) : values, [5], from), to));
      assertClose(cpu!, cuda!, `${from}->${to}`, 0);
    });
  }
});
