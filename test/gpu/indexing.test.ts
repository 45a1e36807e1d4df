// GPU suite: gather and its gradient, one-hot, select (tf.where), range and softmax, against cpu.
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { againstCpu, assertClose, onBoth, openGpu } from './gpu.js';

const gpu = openGpu();

describe('cuda indexing kernels and softmax match cpu', { skip: gpu.skip }, () => {
  againstCpu();

  const table = () => tf.randomNormal([50, 8], 0, 1, 'float32', 3);
  const ids = () => tf.tensor2d([[3, 49, 0, 3], [7, 7, 7, 1]], [2, 4], 'int32');
  const cases: [string, () => tf.Tensor, number][] = [
    ['gather rows (an embedding lookup)', () => tf.gather(table(), ids()), 0],
    ['gather on axis 1', () => tf.gather(table(), tf.tensor1d([7, 0, 2], 'int32'), 1), 0],
    ['the gradient of gather (segment sum with repeated ids)', () => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids()), tf.randomNormal([2, 4, 8], 0, 1, 'float32', 4))))(table()), 1e-5],
    ['unsortedSegmentSum of int32, an id out of range dropped', () => tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], 'int32'), tf.tensor1d([2, -1, 2], 'int32'), 3), 0],
    ['oneHot', () => tf.oneHot(ids(), 50), 0],
    ['oneHot float with on/off values', () => tf.oneHot(tf.tensor1d([0, 2, 5], 'int32'), 4, 2.5, -1, 'float32'), 0],
    ['where', () => tf.where(tf.greater(tf.range(0, 6).reshape([2, 3]), 2), tf.fill([2, 3], -1e9), tf.ones([2, 3])), 0],
    ['range float', () => tf.range(0.5, 10, 0.75), 1e-6],
    ['range int32', () => tf.range(-3, 40, 4, 'int32'), 0],
    ['topK over experts, ties to the lower index', () => tf.topk(tf.tensor2d([[0.1, 0.7, 0.7, -2, 0.3], [5, 4, 3, 2, 1]]), 3).values, 0],
    ['argMax over the last axis (a row of 64,798: strided threads; ties to the first)', () => tf.argMax(tf.concat([tf.randomNormal([3, 64798], 0, 1, 'float32', 9), tf.fill([1, 64798], 0.5)]), -1), 0],
    ['topK indices', () => tf.topk(tf.concat([tf.tensor2d([[0.1, 0.7, 0.7, -2, 0.3]]), tf.randomNormal([6, 5], 0, 1, 'float32', 7)]), 2).indices, 0],
    ['softmax of a vocabulary-sized row', () => tf.softmax(tf.randomNormal([3, 6400], 0, 3, 'float32', 5)), 1e-5],
    ['softmax of attention scores with masked entries', () => tf.softmax(tf.add(tf.randomNormal([2, 4, 5, 5], 0, 1, 'float32', 6), tf.where(tf.greater(tf.range(0, 5).reshape([1, 5]), tf.range(0, 5).reshape([5, 1])), tf.fill([5, 5], -1e9), tf.zeros([5, 5])))), 1e-5],
  ];
  for (const [label, f, tol] of cases) {
    it(label, async () => {
      const [[cpu], [cuda]] = await onBoth(f);
      assertClose(cpu!, cuda!, label, tol);
    });
  }
});
