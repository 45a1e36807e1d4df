// Shared by the GPU suite: is there a usable NVIDIA GPU here (if not, the reason becomes every GPU
// test's skip message), and how to compare the cuda backend with the cpu backend.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend/init.js';
import type { Driver } from '../../lib/backend/cuda/ffi/driver.js';
import { probeCuda, registerCudaBackend } from '../../lib/backend/cuda/register.js';

// Bundled for the GPU machine, tfjs-backend-wasm's loader (CommonJS inside an ES module bundle) finds
// no __dirname; give it the bundle's folder, where the device command puts the .wasm files.
(globalThis as { __dirname?: string }).__dirname ??= dirname(fileURLToPath(import.meta.url));

/** A driver with at least one device, or the reason there is none (as node:test's skip message). */
export function openGpu(): { driver: Driver; skip: false } | { driver: null; skip: string } {
  const probe = probeCuda();
  return probe.driver ? { driver: probe.driver, skip: false } : { driver: null, skip: `no GPU: ${probe.reason}` };
}

/** Bytes the active backend holds on the GPU (tensors, kept copies and scratch), as tf.memory() reports them. */
export const gpuBytes = (): number => (tf.memory() as unknown as { numBytesInGPU: number }).numBytesInGPU;

/** float32 values rounded to bfloat16 (to nearest, ties to even) and back: what a bf16 copy holds. */
export function roundedToBf16(x: Float32Array | Int32Array | Uint8Array): Float32Array {
  const bits = new Uint32Array(Float32Array.from(x).buffer);
  for (let i = 0; i < bits.length; i++) bits[i] = ((bits[i]! + 0x7fff + ((bits[i]! >>> 16) & 1)) >>> 16) << 16;
  return new Float32Array(bits.buffer);
}

/** A tensor as compared: shape, dtype and values. */
export interface Result {
  shape: number[];
  dtype: string;
  data: number[];
}

/** In a describe(): start the cpu backend and register cuda before its tests, return to cpu after. */
export function againstCpu(): void {
  before(async () => {
    await initBackend('cpu', { quiet: true });
    registerCudaBackend();
  });
  after(async () => {
    await tf.setBackend('cpu');
  });
}

/** Run `f` on cpu, then on cuda, with the same inputs; returns [cpu results, cuda results]. */
export async function onBoth(f: () => tf.Tensor | tf.Tensor[]): Promise<[Result[], Result[]]> {
  const results: Result[][] = [];
  for (const name of ['cpu', 'cuda']) {
    await tf.setBackend(name);
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    results.push(await Promise.all(list.map(async (t) => ({ shape: t.shape, dtype: t.dtype, data: Array.from(await t.data()) }))));
    tf.dispose(list);
  }
  return results as [Result[], Result[]];
}

/** Same shape and dtype, and every value within tol relative (absolute below 1); names the first miss. */
export function assertClose(cpu: Result, cuda: Result, label: string, tol: number): void {
  assert.deepEqual(cuda.shape, cpu.shape, `${label}: shape`);
  assert.equal(cuda.dtype, cpu.dtype, `${label}: dtype`);
  cpu.data.forEach((v, i) => {
    if (!(Math.abs(cuda.data[i]! - v) <= tol * Math.max(1, Math.abs(v)))) assert.fail(`${label}: element ${i}: cuda ${cuda.data[i]} vs cpu ${v}`);
  });
}
