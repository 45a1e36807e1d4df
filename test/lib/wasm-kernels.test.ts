// The CPU fast path: wasm with BLAS products and our SIMD fused kernels, each checked against the plain
// tfjs composition on the reference cpu backend (values and gradients, odd sizes), plus BLAS discovery.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { describeBackend, initBackend } from '../../lib/backend/init.js';
import { blasCandidates, loadBlas } from '../../lib/backend/wasm/blas.js';
import { KERNELS_SOURCE_SHA256 } from '../../lib/backend/wasm/simd/kernels-wasm.js';
import { activeBlas, useBlas } from '../../lib/backend/wasm/register.js';
import { attention } from '../../lib/model/attention.js';
import { presetConfig } from '../../lib/model/config.js';
import { FUSED, FUSED_KERNEL_NAMES, gradOf, hasFused, KV_CACHE, QUANTIZED } from '../../lib/model/fused.js';
import { registerCudaBackend } from '../../lib/backend/cuda/register.js';
import { headCrossEntropy, tokenCrossEntropy } from '../../lib/model/loss.js';
import { swiglu } from '../../lib/model/mlp.js';
import { LlamaModel } from '../../lib/model/model.js';
import { rmsNorm } from '../../lib/model/rmsnorm.js';
import { applyRope, ropeTables } from '../../lib/model/rope.js';
import { Rng } from '../../lib/rng.js';
import { AdamW } from '../../lib/train/adamw.js';
import { trainStep } from '../../lib/train/step.js';
import { globalNorm } from '../../lib/train/clip.js';
import { Dense } from '../../lib/model/linear.js';
import { QuantizedLinear } from '../../lib/model/quantized-linear.js';

type Result = { shape: number[]; values: number[] }[];

/** Run `make` on the cpu backend (plain ops) and on wasm with BLAS and the fused kernels; return both. */
async function onBoth(make: () => tf.Tensor[]): Promise<[Result, Result]> {
  const results: Result[] = [];
  for (const name of ['cpu', 'wasm'] as const) {
    await initBackend(name, { quiet: true });
    const outs = tf.tidy(make);
    results.push(await Promise.all(outs.map(async (t) => ({ shape: t.shape, values: Array.from(await t.data()) }))));
    tf.dispose(outs);
  }
  return results as [Result, Result];
}

/** Every value within `tol` of the reference, relative to the reference's largest magnitude. */
function expectClose([cpu, wasm]: [Result, Result], tol: number): void {
  expect(wasm.length).toBe(cpu.length);
  wasm.forEach((out, i) => {
    const ref = cpu[i]!;
    expect(out.shape).toEqual(ref.shape);
    const scale = Math.max(1, ...ref.values.map(Math.abs));
    let worst = 0;
    out.values.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ref.values[j]!) / scale)));
    expect(worst, `output ${i} [${ref.shape}]`).toBeLessThan(tol);
  });
}

const randn = (shape: number[], seed: number, scale = 1) => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale);

describe('the CPU fast path', () => {
  it('takes inputs that still live on another backend (first: moving them grows the fresh heap mid-kernel)', async () => {
    await initBackend('cpu', { quiet: true });
    const h = randn([64, 96], 1), w = randn([4096, 96], 2, 0.1), a = randn([8, 400], 3), b = randn([400, 12000], 4);
    const targets = tf.tensor1d(Array.from({ length: 64 }, (_, i) => (i * 37) % 4096), 'int32');
    const reference = [tf.matMul(a, b), tokenCrossEntropy(tf.reshape(tf.matMul(h, w, false, true), [1, 64, 4096]) as tf.Tensor3D, tf.reshape(targets, [1, 64]) as tf.Tensor2D)].map((t) => t.dataSync());
    await initBackend('wasm', { quiet: true });
    const fused = tf.engine().runKernel(FUSED.headCrossEntropy, { h, weight: w, targets }) as tf.Tensor;
    const results = [tf.matMul(a, b), fused].map((t) => t.dataSync());
    results.forEach((r, i) => r.forEach((v, j) => expect(Math.abs(v - reference[i]![j]!)).toBeLessThan(2e-3)));
  });

  it('finds a BLAS (npm test installs OpenBLAS into .venv) and says so', async () => {
    await initBackend('wasm', { quiet: true });
    expect(activeBlas, loadBlas().reason).not.toBeNull();
    expect(describeBackend()).toMatch(/^wasm \(SIMD, 1 thread; products on OpenBLAS \d+\.\d+\.\d+ \(\w+ kernels\), \d+ threads?\)$/);
    for (const name of Object.values(FUSED).filter((n) => n !== FUSED.attention && n !== FUSED.addRmsNorm && n !== FUSED.projections)) expect(hasFused(name), name).toBe(true);
  });

  it('registers the fused ops under the names lib/model calls, as the cuda backend does (no GPU needed)', async () => {
    await initBackend('wasm', { quiet: true });
    registerCudaBackend();
    const fusedNames = (backend: string) => tf.getKernelsForBackend(backend).map((k) => k.kernelName).filter((n) => n.startsWith('Tiny')).sort();
    expect(fusedNames('cuda')).toEqual([...FUSED_KERNEL_NAMES, ...Object.values(QUANTIZED), ...Object.values(KV_CACHE)].sort());
    // wasm has all but attention, which runs as its products and the fused causal softmax, the residual
    // add fused into RMSNorm, which saves a pass over GPU memory (on the CPU: an Add and the norm), and
    // the projections of one input as one op (on the CPU: a product each, and Adds for the gradient).
    const gpuOnly = [FUSED.attention, FUSED.addRmsNorm, FUSED.projections];
    expect(fusedNames('wasm')).toEqual([...FUSED_KERNEL_NAMES.filter((n) => !gpuOnly.some((g) => n === g || n === gradOf(g))), ...Object.values(QUANTIZED), ...Object.values(KV_CACHE)].sort());
  });

  it('switches off and back: plain tfjs-backend-wasm has neither BLAS nor fused kernels', async () => {
    await initBackend('wasm', { quiet: true, blas: false });
    expect(activeBlas).toBeNull();
    expect(hasFused(FUSED.rmsNorm)).toBe(false);
    expect(describeBackend()).toBe('wasm (SIMD, 1 thread)');
    const c = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]]));
    expect(Array.from(await c.data())).toEqual([19, 22, 43, 50]);
    await initBackend('wasm', { quiet: true });
    expect(activeBlas).not.toBeNull();
  });

  it('explains a BLAS that is switched off or cannot load, naming the file', () => {
    expect(loadBlas({ TINYLLM_BLAS: 'off' })).toEqual({ blas: null, reason: 'TINYLLM_BLAS=off' });
    const missing = loadBlas({ TINYLLM_BLAS: '/nonexistent/libopenblas.so' });
    expect(missing.blas).toBeNull();
    expect(missing.reason).toMatch(/^no BLAS could be loaded: \/nonexistent\/libopenblas\.so \(TINYLLM_BLAS\): /);
    expect(blasCandidates({}).some((c) => c.prefix === 'scipy_' && /\.venv/.test(c.source))).toBe(true);
    expect(() => useBlas(true, 0)).toThrow('blas: threads must be a whole number ≥ 1, got 0');
    expect(() => loadBlas({ TINYLLM_THREADS: 'two' })).toThrow("TINYLLM_THREADS: 'two' is not valid, expected a whole number ≥ 1");
    expect(loadBlas({ TINYLLM_THREADS: '1' }).blas!.threads).toBe(1);
  });

  it('runs the SIMD module built from the kernels.c beside it', () => {
    const source = readFileSync(new URL('../../lib/backend/wasm/simd/kernels.c', import.meta.url));
    expect(KERNELS_SOURCE_SHA256, 'kernels.c changed: run lib/backend/wasm/simd/build.sh').toBe(createHash('sha256').update(source).digest('hex'));
  });

  it('BatchMatMul: transposes, batch broadcast, odd sizes, one row, an empty inner size, and other broadcasts', async () => {
    const results = await onBoth(() => {
      const a = randn([2, 3, 5, 7], 1), b = randn([2, 3, 7, 9], 2);
      const aT = tf.transpose(a, [0, 1, 3, 2]), bT = tf.transpose(b, [0, 1, 3, 2]);
      return [
        tf.matMul(a, b), tf.matMul(aT, b, true, false), tf.matMul(a, bT, false, true), tf.matMul(aT, bT, true, true),
        tf.matMul(tf.reshape(a, [30, 7]), randn([11, 7], 3), false, true), // a 2-D weight, as linear() uses it
        tf.matMul(randn([1, 5, 7], 4), randn([4, 7, 3], 5)), // one entry reused for every entry of the other
        tf.matMul(randn([2, 1, 3, 4], 6), randn([1, 3, 4, 2], 7)), // a broadcast BLAS does not take: the wasm kernel
        tf.matMul(randn([1, 7], 8), randn([11, 7], 9), false, true), tf.matMul(randn([1, 1, 7], 10), randn([7, 9], 11)), // one row: sgemv
        tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4])),
      ];
    });
    expectClose(results, 1e-5);
    expect(results[1].at(-1)!.values).toEqual(new Array(12).fill(0));
  });

  it('GatherV2 and its gradient: rows of a table, an inner axis, int32 values, dropped segments, an index out of range', async () => {
    expectClose(await onBoth(() => {
      const table = randn([11, 5], 1), x = randn([3, 4, 6], 2);
      const ids = tf.tensor2d([[10, 0, 3], [3, 3, 7]], [2, 3], 'int32');
      return [
        tf.gather(table, ids), tf.gather(x, tf.tensor1d([5, 0, 2], 'int32'), 2), tf.gather(x, tf.tensor1d([3, 1], 'int32'), 1),
        tf.gather(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), tf.tensor1d([1, 1, 0], 'int32')),
        tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, ids))))(table),
        tf.unsortedSegmentSum(randn([5, 3, 2], 3), tf.tensor1d([4, 0, 4, -1, 9], 'int32'), 6), // −1 and 9 are dropped
      ];
    }), 1e-6);
    await initBackend('wasm', { quiet: true });
    expect(() => tf.gather(tf.zeros([4, 2]), tf.tensor1d([1, 4], 'int32'))).toThrow('GatherV2: the index value 4 is not in [0, 3]');
  });

  it('RMSNorm and SwiGLU: values and gradients on rows of odd width', async () => {
    expectClose(await onBoth(() => {
      const x = randn([3, 5, 37], 1), w = randn([37], 2), dy = randn([3, 5, 37], 3);
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(rmsNorm(a, b, 1e-5), dy)))([x, w]);
      return [rmsNorm(x, w, 1e-5), dx!, dw!];
    }), 2e-5);
    expectClose(await onBoth(() => {
      const x = randn([2, 7, 13], 1), gate = randn([19, 13], 2), up = randn([19, 13], 3), down = randn([13, 19], 4, 0.5);
      const f = (a: tf.Tensor, g: tf.Tensor, u: tf.Tensor) => tf.sum(tf.square(swiglu(a, { gate: new Dense(g), up: new Dense(u), down: new Dense(down) })));
      return [swiglu(x, { gate: new Dense(gate), up: new Dense(up), down: new Dense(down) }), ...tf.grads(f)([x, gate, up])];
    }), 2e-5);
  });

  it('the global gradient norm: one fused op over tensors of several shapes (a scalar, an empty one) equals the plain sum of squares', async () => {
    const shapes = [[3, 5, 37], [1], [], [0, 4], [1000]];
    expectClose(await onBoth(() => [globalNorm(shapes.map((s, i) => randn(s, i + 1)))]), 1e-6);
    await initBackend('wasm', { quiet: true });
    expect(tf.getKernel(FUSED.squaredNorm, 'wasm')).toBeDefined(); // (the cpu backend ran the plain ops above)
  });

  it('RoPE and attention (causal softmax, GQA, a cache offset): values and gradients', async () => {
    expectClose(await onBoth(() => {
      const tables = ropeTables(6, 16, 10000);
      const x = randn([2, 3, 5, 6], 1);
      return [applyRope(x, tables, 0), applyRope(x, tables, 4), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(applyRope(a, tables, 2), x)))(x)];
    }), 1e-5);
    for (const [heads, kvHeads, T] of [[4, 2, 9], [3, 1, 5], [2, 2, 1]]) {
      expectClose(await onBoth(() => {
        const D = 8 * heads, Dh = 8;
        const rope = ropeTables(Dh, 32, 10000);
        const x = randn([2, T!, D], 1) as tf.Tensor3D;
        const w = { q: new Dense(randn([heads! * Dh, D], 2, 0.3)), k: new Dense(randn([kvHeads! * Dh, D], 3, 0.3)), v: new Dense(randn([kvHeads! * Dh, D], 4, 0.3)), o: new Dense(randn([D, heads! * Dh], 5, 0.3)) };
        const run = (a: tf.Tensor) => attention(a as tf.Tensor3D, w, { heads: heads!, kvHeads: kvHeads!, rope });
        return [run(x), tf.grad((a: tf.Tensor) => tf.sum(tf.square(run(a))))(x)];
      }), 2e-5);
    }
  });

  it('quantized products of up to 8 rows (SIMD from the blocks) equal the JavaScript kernel, q8_0 and q4_0, rows inside and across blocks', async () => {
    const rng = new Rng(21);
    for (const type of ['q8_0', 'q4_0'] as const) {
      for (const [rows, cols] of [[40, 120], [24, 352], [8, 32]]) {
        const weight = Array.from({ length: rows * cols }, () => rng.next() - 0.5);
        for (const N of [1, 3, 8]) {
          const x = Array.from({ length: N * cols }, () => rng.next() - 0.5);
          expectClose(await onBoth(() => [QuantizedLinear.fromWeight(type, tf.tensor2d(weight, [rows, cols])).apply(tf.tensor2d(x, [N, cols]))]), 1e-6);
        }
      }
    }
  });

  it('LM head + cross-entropy: losses and gradients, with padded rows and an out-of-range target', async () => {
    expectClose(await onBoth(() => {
      const h = randn([2, 7, 12], 1) as tf.Tensor3D, w = randn([67, 12], 2, 0.5) as tf.Tensor2D; // 67 rows: padded to 128 on the fused path
      const targets = tf.tensor2d([[0, 5, 66, 13, 2, 9, 40], [1, 1, 3, 64, 67, 30, 7]], [2, 7], 'int32'); // 67: outside [0, 67), loss 0
      const dy = randn([2, 7], 3);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(headCrossEntropy(a as tf.Tensor3D, b as tf.Tensor2D, targets), dy));
      return [headCrossEntropy(h, w, targets), ...tf.grads(f)([h, w])];
    }), 2e-5);
  });

  it('tokenLogProbs through the fused head: the same values and gradients as the plain ops', async () => {
    const config = presetConfig('nano', { vocabSize: 96, layers: 2 });
    const rng = new Rng(8);
    const [inputs, targets] = [0, 1].map(() => Array.from({ length: 2 * 12 }, () => rng.int(96)));
    let model: LlamaModel | null = null;
    expectClose(await onBoth(() => {
      model?.dispose();
      model = LlamaModel.create(config, 2);
      const [x, y] = [inputs!, targets!].map((v) => tf.tensor2d(v, [2, 12], 'int32')) as [tf.Tensor2D, tf.Tensor2D];
      const grads = tf.variableGrads(() => tf.sum(model!.tokenLogProbs(x, y)) as tf.Scalar, model.variables()).grads;
      return [model.tokenLogProbs(x, y), ...Object.values(grads)];
    }), 2e-5);
    (model as LlamaModel | null)?.dispose();
  });

  it('trains nano like the cpu backend: the same losses over 5 AdamW steps, and no tensor left behind', async () => {
    const config = presetConfig('nano', { vocabSize: 96 });
    const rng = new Rng(3);
    const batch = { inputs: Int32Array.from({ length: 2 * 16 }, () => rng.int(96)), targets: Int32Array.from({ length: 2 * 16 }, () => rng.int(96)) };
    const losses: number[][] = [];
    for (const name of ['cpu', 'wasm'] as const) {
      await initBackend(name, { quiet: true });
      const model = LlamaModel.create(config, 0);
      const adamw = new AdamW(model.params);
      const run: number[] = [];
      const before = tf.memory().numTensors;
      for (let s = 0; s < 5; s++) run.push(trainStep(model, adamw, [batch], 2, 3e-3, 1).loss);
      expect(tf.memory().numTensors).toBe(before);
      losses.push(run);
      adamw.dispose();
      model.dispose();
    }
    losses[1]!.forEach((l, i) => expect(Math.abs(l - losses[0]![i]!)).toBeLessThan(1e-4));
    expect(losses[1]![4]!).toBeLessThan(losses[1]![0]! - 0.1); // it learns
  });
});
