import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeBackend, initBackend, parseBackendName } from '../../lib/backend/init.js';

afterEach(() => vi.restoreAllMocks());

describe('initBackend', () => {
  it('auto picks wasm with BLAS products when cuda is absent and says so', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await initBackend('auto')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(log).toHaveBeenCalledWith(expect.stringMatching(/^tinyllm: backend wasm \(SIMD, 1 thread; products on OpenBLAS [\d.]+ \(\w+ kernels\), \d+ threads?\)$/));
  });

  it.each(['cpu', 'wasm'] as const)('%s computes the same matmul as a hand calculation', async (name) => {
    await initBackend(name, { quiet: true });
    expect(tf.getBackend()).toBe(name);
    const c = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]]));
    expect(Array.from(await c.data())).toEqual([19, 22, 43, 50]);
  });

  it('describes the cpu backend by name', async () => {
    await initBackend('cpu', { quiet: true });
    expect(describeBackend()).toBe('cpu');
  });

  it('names what is missing when cuda is asked for on a machine without it', async () => {
    // This machine has no NVIDIA driver: the message says which library is missing, where it looked, and the fix.
    await expect(initBackend('cuda')).rejects.toThrow(/^--backend cuda: cuda backend: libcuda\.so not found; searched .*\/usr\/local\/cuda.*Fix: install the NVIDIA driver, or point TINYLLM_CUDA_LIBS at the folder that holds it$/s);
  });
});

describe('parseBackendName', () => {
  it('accepts the known names', () => {
    expect(['auto', 'cpu', 'wasm', 'cuda'].map((n) => parseBackendName(n))).toEqual(['auto', 'cpu', 'wasm', 'cuda']);
  });
  it('rejects others, naming the field and the choices', () => {
    expect(() => parseBackendName('webgl')).toThrow("--backend: unknown backend 'webgl', expected one of auto, cpu, wasm, cuda");
  });
});

describe('kernels we add', () => {
  it('UnsortedSegmentSum (the gradient of gather) agrees on cpu and wasm and with a hand computation', async () => {
    const run = async (name: 'cpu' | 'wasm') => {
      await initBackend(name, { quiet: true });
      const table = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
      const ids = tf.tensor1d([2, 0, 2, 1, 2], 'int32');
      const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]))))(table);
      const direct = tf.unsortedSegmentSum(tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8], [4, 1, 2]), tf.tensor1d([1, 1, 3, -1], 'int32'), 4);
      return [Array.from(await grad.data()), direct.shape, Array.from(await direct.data())];
    };
    const wasm = await run('wasm');
    expect(wasm).toEqual(await run('cpu'));
    // By hand: row 0 gets dy row 1, row 1 gets row 3, row 2 gets rows 0 + 2 + 4.
    expect(wasm[0]).toEqual([3, 4, 7, 8, 15, 18]);
    expect(wasm[2]).toEqual([0, 0, 4, 6, 0, 0, 5, 6]); // id −1 is dropped
  });
});

describe('wasm BatchMatMul with transposed operands', () => {
  it('matches cpu for every transpose combination, batched and broadcast', async () => {
    const run = async (name: 'cpu' | 'wasm') => {
      await initBackend(name, { quiet: true });
      const a = tf.randomNormal([2, 3, 5, 4], 0, 1, 'float32', 1);
      const b = tf.randomNormal([2, 3, 4, 6], 0, 1, 'float32', 2);
      const aT = tf.transpose(a, [0, 1, 3, 2]), bT = tf.transpose(b, [0, 1, 3, 2]);
      const w = tf.randomNormal([7, 4], 0, 1, 'float32', 3); // broadcast 2-D weight, as linear() uses it
      const outs = [tf.matMul(a, b), tf.matMul(aT, b, true, false), tf.matMul(a, bT, false, true), tf.matMul(aT, bT, true, true),
        tf.matMul(tf.reshape(a, [30, 4]), w, false, true)];
      return Promise.all(outs.map(async (t) => ({ shape: t.shape, values: Array.from(await t.data()) })));
    };
    const [cpu, wasm] = [await run('cpu'), await run('wasm')];
    wasm.forEach((out, i) => {
      expect(out.shape).toEqual(cpu[i]!.shape);
      out.values.forEach((v, j) => expect(Math.abs(v - cpu[i]!.values[j]!)).toBeLessThan(1e-4));
    });
  });
});
