// GPU suite: layout kernels (transpose, slice, split, concat, stack, unstack, pad, fill) against cpu.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { againstCpu, onBoth, openGpu } from './gpu.js';

const gpu = openGpu();

const x = (shape: number[], dtype: 'float32' | 'int32' = 'float32') => tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (dtype === 'int32' ? i : i * 0.5 - 3)), shape, dtype);

describe('cuda layout kernels match cpu', { skip: gpu.skip }, () => {
  againstCpu();

  const cases: [string, () => tf.Tensor | tf.Tensor[]][] = [
    ['transpose 3-D', () => tf.transpose(x([2, 3, 5]), [2, 0, 1])],
    ['transpose 4-D as attention does', () => tf.transpose(x([2, 7, 3, 4]), [0, 2, 1, 3])],
    ['transpose int32', () => tf.transpose(x([4, 6], 'int32'))],
    ['slice with -1 size', () => tf.slice(x([5, 6, 7]), [1, 2, 3], [3, -1, 2])],
    ['slice of a RoPE table', () => tf.slice(x([64, 8]), [10, 0], [5, 8])],
    ['split', () => tf.split(x([4, 10]), [3, 5, 2], 1)],
    ['concat on the last axis', () => tf.concat([x([2, 3]), x([2, 5]), x([2, 0])], -1)],
    ['concat on axis 0', () => tf.concat([x([1, 4]), x([3, 4])], 0)],
    ['stack', () => tf.stack([x([2, 3]), x([2, 3]), x([2, 3])], 1)],
    ['unstack', () => tf.unstack(x([3, 4, 2]), 1)],
    ['pad', () => tf.pad(x([2, 3]), [[1, 0], [2, 3]], 7)],
    ['expandDims (shares data, like reshape)', () => [tf.expandDims(x([2, 3]), 1), tf.expandDims(x([2, 3]), -1)]],
    ['fill, zerosLike, onesLike', () => [tf.fill([3, 2], 2.5), tf.zerosLike(x([4], 'int32')), tf.onesLike(x([2, 2]))]],
  ];
  for (const [label, f] of cases) {
    it(label, async () => {
      const [cpu, cuda] = await onBoth(f); // every output tensor
      assert.deepEqual(cuda, cpu);
    });
  }
});
