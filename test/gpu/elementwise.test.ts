// GPU suite: element-wise kernels on the cuda backend against the cpu backend, on shapes with odd sizes,
// broadcasting, scalars and empty tensors; and no memory left behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { BINARY_OPS, COMPARISON_OPS, UNARY_OPS } from '../../lib/backend/cuda/kernels/elementwise.js';
import { Rng } from '../../lib/rng.js';
import { againstCpu, assertClose, onBoth, openGpu } from './gpu.js';

const gpu = openGpu();
const SHAPES: [number[], number[]][] = [[[1000003], [1000003]], [[2, 3, 5], [3, 1]], [[7, 1], [1, 9]], [[], [4]], [[0, 3], [3]], [[2, 1, 3, 1, 2, 3], [4, 1, 1]]];

/** Values for op inputs: positive and away from 0 where the op needs it, small integers for comparisons. */
function values(n: number, rng: Rng, kind: 'positive' | 'any' | 'small-int'): number[] {
  return Array.from({ length: n }, () => (kind === 'small-int' ? rng.int(4) : kind === 'positive' ? 0.5 + 1.5 * rng.next() : 4 * rng.next() - 2));
}

describe('cuda element-wise kernels match cpu', { skip: gpu.skip }, () => {
  againstCpu();

  for (const op of Object.keys(BINARY_OPS)) {
    it(`${op} (float32, broadcasting)`, async () => {
      const rng = new Rng(op.length * 31);
      for (const [sa, sb] of SHAPES) {
        const kind = op === 'Pow' || op === 'RealDiv' ? 'positive' : 'any';
        const a = values(sa.reduce((x, y) => x * y, 1), rng, kind), b = values(sb.reduce((x, y) => x * y, 1), rng, kind);
        const [[cpu], [cuda]] = await onBoth(() => tf.engine().runKernel(op, { a: tf.tensor(a, sa), b: tf.tensor(b, sb) }) as tf.Tensor);
        assertClose(cpu!, cuda!, `${op} [${sa}] [${sb}]`, 1e-5);
      }
    });
  }

  for (const op of ['Add', 'Sub', 'Multiply', 'Maximum', 'Minimum']) {
    it(`${op} (int32)`, async () => {
      const rng = new Rng(7);
      const a = Array.from({ length: 30 }, () => rng.int(200) - 100), b = Array.from({ length: 6 }, () => rng.int(200) - 100);
      const [[cpu], [cuda]] = await onBoth(() => tf.engine().runKernel(op, { a: tf.tensor(a, [5, 6], 'int32'), b: tf.tensor(b, [6], 'int32') }) as tf.Tensor);
      assertClose(cpu!, cuda!, op, 0);
    });
  }

  for (const op of Object.keys(COMPARISON_OPS)) {
    it(`${op} (bool output)`, async () => {
      const rng = new Rng(op.length);
      const logical = op.startsWith('Logical');
      const a = values(24, rng, 'small-int').map((v) => (logical ? v % 2 : v)), b = values(6, rng, 'small-int').map((v) => (logical ? v % 2 : v));
      const dtype = logical ? 'bool' : 'float32';
      const [[cpu], [cuda]] = await onBoth(() => tf.engine().runKernel(op, { a: tf.tensor(a, [4, 6], dtype), b: tf.tensor(b, [6], dtype) }) as tf.Tensor);
      assertClose(cpu!, cuda!, op, 0);
    });
  }

  for (const op of Object.keys(UNARY_OPS)) {
    it(`${op}`, async () => {
      const rng = new Rng(op.length * 7);
      const positive = ['Log', 'Sqrt', 'Rsqrt', 'Reciprocal'].includes(op);
      for (const shape of [[1000003], [3, 0], []]) {
        const x = values(shape.reduce((p, q) => p * q, 1), rng, positive ? 'positive' : 'any');
        const [[cpu], [cuda]] = await onBoth(() => tf.engine().runKernel(op, { x: tf.tensor(x, shape) }) as tf.Tensor);
        assertClose(cpu!, cuda!, `${op} [${shape}]`, 2e-6);
      }
    });
  }

  it('AddN of 1, 2 and 5 tensors', async () => {
    for (const n of [1, 2, 5]) {
      const [[cpu], [cuda]] = await onBoth(() => tf.addN(Array.from({ length: n }, (_, i) => tf.randomNormal([3, 37], 0, 1, 'float32', i + 1))));
      assertClose(cpu!, cuda!, `AddN of ${n}`, 1e-6);
    }
  });

  it('frees what it allocates', async () => {
    await tf.setBackend('cuda');
    const before = tf.memory();
    for (let i = 0; i < 100; i++) tf.tidy(() => tf.add(tf.mul(tf.ones([1000, 100]), 2), tf.exp(tf.zeros([100]))).dispose());
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal((after as { numBytesInGPU?: number }).numBytesInGPU, (before as { numBytesInGPU?: number }).numBytesInGPU);
  });
});
