import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeBackend, initBackend, parseBackendName } from '../../lib/backend/init.js';

afterEach(() => vi.restoreAllMocks());

describe('initBackend', () => {
  it('auto picks wasm when cuda is absent and says so', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await initBackend('auto')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(log).toHaveBeenCalledWith('tinyllm: backend wasm (SIMD, 1 thread)');
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
    await expect(initBackend('cuda')).rejects.toThrow("initBackend('cuda'): no usable backend (cuda: not registered)");
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
