// GPU suite: reductions over any axes, with and without keepDims, against cpu.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../lib/rng.js';
import { againstCpu, onBoth, openGpu } from './gpu.js';

const gpu = openGpu();

describe('cuda reductions match cpu', { skip: gpu.skip }, () => {
  againstCpu();

  const rng = new Rng(5);
  const data = (n: number) => Array.from({ length: n }, () => 2 * rng.next() - 1);
  const ops: [string, (x: tf.Tensor, axis?: number | number[], keepDims?: boolean) => tf.Tensor][] = [
    ['sum', tf.sum], ['mean', tf.mean], ['max', tf.max], ['min', tf.min], ['prod', tf.prod],
  ];
  const cases: [number[], number | number[] | undefined, boolean][] = [
    [[1_000_003], undefined, false], [[4, 6, 5], -1, true], [[4, 6, 5], 0, false], [[4, 6, 5], [0, 2], false],
    [[4, 6, 5], [1], true], [[2, 3, 4, 5], [1, 3], true],
  ];
  for (const [name, op] of ops) {
    it(name, async () => {
      for (const [shape, axis, keepDims] of cases) {
        if (name === 'prod' && shape[0] === 1_000_003) continue; // a product of a million numbers in [-1, 1] is 0 on both
        const values = data(shape.reduce((a, b) => a * b, 1));
        const [[cpu], [cuda]] = await onBoth(() => op(tf.tensor(values, shape), axis, keepDims));
        assert.deepEqual(cuda!.shape, cpu!.shape, `${name} [${shape}] axis ${axis}: shape`);
        // Summation order differs: allow a relative error of 1e-5 of the sum of magnitudes.
        const scale = name === 'sum' || name === 'mean' ? Math.max(1, values.reduce((s, v) => s + Math.abs(v), 0) / (name === 'mean' ? values.length : 1)) : 1;
        cpu!.data.forEach((v, i) => assert.ok(Math.abs(cuda!.data[i]! - v) <= 1e-5 * scale || v === cuda!.data[i], `${name} [${shape}] axis ${axis}: element ${i}: cuda ${cuda!.data[i]} vs cpu ${v}`));
      }
    });
  }

  it('reduces zero elements to the identity, as TensorFlow (tfjs-cpu gives NaN for max and min, 0 for mean)', async () => {
    await tf.setBackend('cuda');
    const empty = tf.zeros([3, 0]);
    const got = await Promise.all([tf.sum, tf.prod, tf.max, tf.min, tf.mean].map(async (op) => Array.from(await op(empty, 1).data())));
    assert.deepEqual(got, [[0, 0, 0], [1, 1, 1], [-Infinity, -Infinity, -Infinity], [Infinity, Infinity, Infinity], [NaN, NaN, NaN]]);
  });

  it('sum and max of int32', async () => {
    const values = Array.from({ length: 60 }, () => rng.int(1000) - 500);
    for (const op of [tf.sum, tf.max]) {
      const [[cpu], [cuda]] = await onBoth(() => op(tf.tensor(values, [5, 12], 'int32'), 1));
      assert.deepEqual(cuda, cpu);
    }
  });
});
