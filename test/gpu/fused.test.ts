// GPU suite: each fused op on cuda against the plain tfjs composition on cpu — values and gradients.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { attention } from '../../lib/model/attention.js';
import { headCrossEntropy } from '../../lib/model/loss.js';
import { swiglu } from '../../lib/model/mlp.js';
import { addRmsNorm, rmsNorm } from '../../lib/model/rmsnorm.js';
import { applyRope, ropeTables } from '../../lib/model/rope.js';
import { Rng } from '../../lib/rng.js';
import { AdamW } from '../../lib/train/adamw.js';
import { globalNorm } from '../../lib/train/clip.js';
import type { CudaBackend } from '../../lib/backend/cuda/backend.js';
import type { MatmulPrecision } from '../../lib/backend/cuda/ffi/cublas.js';
import { againstCpu, assertClose, gpuBytes, onBoth, openGpu, roundedToBf16 } from './gpu.js';
import { Dense, projectAll } from '../../lib/model/linear.js';
import { FUSED, gradOf, runFused } from '../../lib/model/fused.js';

const gpu = openGpu();


/** Attention projections from plain weights [out, in]. */
const denseAttention = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, o: tf.Tensor) => ({ q: new Dense(q), k: new Dense(k), v: new Dense(v), o: new Dense(o) });
describe('fused ops on cuda match the plain composition on cpu', { skip: gpu.skip }, () => {
  againstCpu();

  const rng = new Rng(11);
  const values = (n: number, scale = 1) => Array.from({ length: n }, () => scale * (2 * rng.next() - 1));
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

  /**
   * f(inputs) and the gradient of Σ f(inputs)·r (r random, fixed) with respect to every input, on both
   * backends; on cuda f runs through the fused kernels, on cpu through the plain ops.
   */
  async function check(label: string, shapes: number[][], f: (xs: tf.Tensor[]) => tf.Tensor, tol: number, scale = 1, precision: MatmulPrecision = 'fp32'): Promise<void> {
    const inputs = shapes.map((s) => values(size(s), scale));
    let weights: number[] | null = null;
    const backend = tf.findBackend('cuda') as CudaBackend;
    backend.matmulPrecision = precision;
    try {
      const [cpu, cuda] = await onBoth(() => {
        const xs = shapes.map((s, i) => tf.tensor(inputs[i]!, s));
        const y = f(xs);
        weights ??= values(y.size);
        const r = tf.tensor(weights, y.shape);
        const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(a), r)))(xs);
        return [y, ...grads];
      });
      cpu.forEach((c, i) => assertClose(c, cuda[i]!, `${label}: ${i === 0 ? 'value' : `gradient of input ${i - 1}`}`, tol));
    } finally {
      backend.matmulPrecision = 'fp32';
    }
  }

  /** Names of the kernels f and its gradient run on cuda, once per call. */
  async function kernelsOf(f: () => tf.Tensor, wrt: tf.Tensor[]): Promise<string[]> {
    await tf.setBackend('cuda');
    const info = await tf.profile(() => tf.grads(() => tf.sum(f()))(wrt));
    tf.dispose(info.result as tf.Tensor[]);
    return info.kernels.map((k) => k.name);
  }

  // D = 2,048 sums dw in a shared-memory row a warp (64 KB: above the 48 KB default), 4,100 in one row
  // with atomics (8 warps × D floats would not fit).
  it('RMSNorm (D = 37, 512, 2,048 and 4,100) and its gradients for x and the weight', async () => {
    for (const D of [37, 512, 2048, 4100]) await check(`rmsNorm D=${D}`, [[3, 5, D], [D]], ([x, w]) => rmsNorm(x!, w!, 1e-5), 1e-4);
  });

  it('a residual step and RMSNorm in one (D = 37 and 512): the sum, the normed sum, and the gradients of h, delta and the weight', async () => {
    for (const D of [37, 512]) {
      await check(`addRmsNorm D=${D}`, [[3, 5, D], [3, 5, D], [D]], ([h, d, w]) => tf.concat(addRmsNorm(h!, d!, w!, 1e-5), -1), 1e-4);
    }
  });

  it('SwiGLU MLP and its gradients (widths 40 and 41: 4 values an access, and a tail of 2)', async () => {
    for (const F of [40, 41]) {
      await check(`swiglu F=${F}`, [[2, 7, 16], [F, 16], [F, 16], [16, F]], ([x, gate, up, down]) => swiglu(x!, { gate: new Dense(gate!), up: new Dense(up!), down: new Dense(down!) }), 1e-4);
    }
  });

  it('RoPE at offsets 0 and 3 and its gradient (head widths 8 and 6: 4 pairs at a time, and one)', async () => {
    for (const Dh of [8, 6]) {
      const tables = ropeTables(Dh, 16, 10000);
      for (const offset of [0, 3]) await check(`rope Dh=${Dh} offset ${offset}`, [[2, 3, 7, Dh]], ([x]) => applyRope(x!, tables, offset), 1e-5);
      tf.dispose([tables.cos, tables.sin]);
    }
  });

  it('causal attention, Dh = 8 (plain ops with the fused masked softmax; GQA 4/2 heads) and its gradients', async () => {
    const tables = ropeTables(8, 64, 10000);
    const D = 32;
    await check('attention', [[2, 33, D], [D, D], [16, D], [16, D], [D, D]],
      ([x, q, k, v, o]) => attention(x as tf.Tensor3D, denseAttention(q!, k!, v!, o!), { heads: 4, kvHeads: 2, rope: tables }), 2e-4);
    tf.dispose([tables.cos, tables.sin]);
  });

  it('projections of one input as one op (3 of different widths, and 2): values, and the gradients of x and of each weight', async () => {
    for (const widths of [[48, 16, 16], [40, 40]]) {
      const shapes = [[2, 5, 24], ...widths.map((w) => [w, 24])];
      await check(`projections ${widths}`, shapes, ([x, ...ws]) => tf.concat(projectAll(x!, ws.map((w) => new Dense(w))), -1), 1e-4);
    }
  });

  // The flash kernel: tiles of 64 queries and keys (the forward's blocks 128 queries where they fit, the
  // backward's 128 keys), so T = 1, 64 (one full tile), 70, 100, 130 and 200 (ragged last tiles) and
  // GQA; head sizes 32 (minimind-26m), 48 (minimind-108m), 64 and 128.
  const FLASH_POSITIONS = 256; // RoPE tables long enough for every case's T
  const flashCases: [string, { B: number; T: number; H: number; K: number; Dh: number }][] = [
    ['T=130, GQA 4/2, Dh=32', { B: 2, T: 130, H: 4, K: 2, Dh: 32 }],
    ['T=70, Dh=64', { B: 1, T: 70, H: 2, K: 2, Dh: 64 }],
    ['T=200, Dh=64', { B: 1, T: 200, H: 2, K: 2, Dh: 64 }],
    ['T=64, GQA 2/1, Dh=128', { B: 1, T: 64, H: 2, K: 1, Dh: 128 }],
    ['T=200, GQA 2/1, Dh=128 (two 128-row blocks on an H100)', { B: 1, T: 200, H: 2, K: 1, Dh: 128 }],
    ['T=1, Dh=64', { B: 3, T: 1, H: 2, K: 2, Dh: 64 }],
    ['T=100, GQA 3/1, Dh=48', { B: 1, T: 100, H: 3, K: 1, Dh: 48 }],
  ];
  const flashShapes = ({ B, T, H, K, Dh }: { B: number; T: number; H: number; K: number; Dh: number }) => [[B, T, 40], [H * Dh, 40], [K * Dh, 40], [K * Dh, 40], [40, H * Dh]];
  const flash = (tables: { cos: tf.Tensor2D; sin: tf.Tensor2D }, H: number, K: number) => ([x, q, k, v, o]: tf.Tensor[]) =>
    attention(x as tf.Tensor3D, denseAttention(q!, k!, v!, o!), { heads: H, kvHeads: K, rope: tables });

  it('fused flash attention (RoPE inside) matches the plain ops, values and gradients, in fp32', async () => {
    for (const [label, c] of flashCases) {
      const tables = ropeTables(c.Dh, FLASH_POSITIONS, 10000);
      await check(`flash attention ${label}`, flashShapes(c), flash(tables, c.H, c.K), 2e-4, 0.5);
      tf.dispose([tables.cos, tables.sin]);
    }
  });

  it('the flash path runs TinyAttention and its gradient kernel, and no T×T softmax', async () => {
    const c = flashCases[0]![1];
    const tables = ropeTables(c.Dh, FLASH_POSITIONS, 10000);
    await tf.setBackend('cuda');
    const inputs = flashShapes(c).map((shape) => tf.tensor(values(size(shape), 0.5), shape));
    const names = await kernelsOf(() => flash(tables, c.H, c.K)(inputs), inputs);
    const count = (name: string) => names.filter((n) => n === name).length;
    assert.deepEqual([count('TinyAttention'), count('TinyAttentionGrad'), count('TinyCausalSoftmax'), count('TinyRope')], [1, 1, 0, 0], names.join(', '));
    // q, k and v as one projections op, o as another; backward, x's gradient of each in one op and each
    // weight's a product: no matmul over scores, and no Add of x's gradient pieces.
    assert.deepEqual([count('TinyProjections'), count('TinyProjectionsGrad'), count('BatchMatMul'), count('Add')], [2, 2, 4, 0], names.join(', '));
    tf.dispose([...inputs, tables.cos, tables.sin]);
  });

  // bf16 inputs keep 8 significant bits (relative 2^-9 each), TF32 11: with scores of size ~1 and sums
  // over 40–200 terms, allow 3e-2 and 5e-3 of the values' scale. The projections around the kernel only
  // pick coordinates (x = [q | k | v], o the identity): exact in any precision but for one rounding of
  // their operands, so what is compared is the kernel's own rounding, not that of random products.
  for (const [precision, tol] of [['tf32', 5e-3], ['bf16', 3e-2]] as const) {
    it(`fused flash attention and LM head + cross-entropy in ${precision}`, async () => {
      for (const [label, { B, T, H, K, Dh }] of flashCases) {
        const tables = ropeTables(Dh, FLASH_POSITIONS, 10000);
        const width = (H + 2 * K) * Dh;
        const picking = (rows: number, from: number) => new Dense(tf.slice(tf.eye(width), [from, 0], [rows, width])); // [rows, width]
        const projections = () => ({ q: picking(H * Dh, 0), k: picking(K * Dh, H * Dh), v: picking(K * Dh, (H + K) * Dh), o: new Dense(tf.eye(H * Dh)) });
        await check(`flash attention ${label} ${precision}`, [[B, T, width]], ([x]) => attention(x as tf.Tensor3D, projections(), { heads: H, kvHeads: K, rope: tables }), tol, 0.5, precision);
        tf.dispose([tables.cos, tables.sin]);
      }
      const targets = Array.from({ length: 6 }, () => rng.int(1000));
      await check(`cross-entropy ${precision}`, [[2, 3, 16], [1000, 16]], ([h, w]) => headCrossEntropy(h as tf.Tensor3D, w as tf.Tensor2D, tf.tensor2d(targets, [2, 3], 'int32')), tol, 2, precision);
    });
  }

  // A row of 64,798 logits is longer than the shared memory that keeps it between the kernel's two
  // passes (the rest is read again from memory): in float32 and in bf16 (bfloat16 logits). Two targets
  // outside the vocabulary (−1 and V) give a loss of 0 and no gradient, as one-hot's zeros do on the CPU.
  it('LM head + cross-entropy over vocabularies of 64, 1,001 and 64,798 (padded to 64, 1,024 and 64,832), and its gradients', async () => {
    for (const [V, precision, tol] of [[64, 'fp32', 1e-4], [1001, 'fp32', 1e-4], [64798, 'fp32', 1e-4], [64798, 'bf16', 3e-2]] as const) {
      const targets = [rng.int(V), -1, rng.int(V), rng.int(V), V, rng.int(V)];
      await check(`cross-entropy V=${V} ${precision}`, [[2, 3, 16], [V, 16]], ([h, w]) => headCrossEntropy(h as tf.Tensor3D, w as tf.Tensor2D, tf.tensor2d(targets, [2, 3], 'int32')), tol, 2, precision);
    }
  });

  it('the global gradient norm: one fused op over tensors of several shapes (a scalar, an empty one, 2M values; 135 of them: two launches) equals the plain sum of squares', async () => {
    const shapes = [[3, 5, 37], [1], [], [0, 4], [2048, 1024], ...Array.from({ length: 130 }, () => [7, 3])];
    const inputs = shapes.map((s) => values(size(s)));
    const [cpu, cuda] = await onBoth(() => [globalNorm(inputs.map((v, i) => tf.tensor(v, shapes[i])))]);
    assertClose(cpu[0]!, cuda[0]!, 'global norm', 1e-5);
  });

  it('bf16: what only products and bf16-reading kernels read (projections and their input gradient, the stack\'s norms, SwiGLU and its gradient, attention\'s output, dQ, dK, dV) is kept as bfloat16 only; the rest writes its copy beside float32', async () => {
    const cuda = tf.findBackend('cuda') as CudaBackend;
    await tf.setBackend('cuda');
    const [B, T, H, Dh] = [2, 70, 2, 64];
    const tables = ropeTables(Dh, T, 10000);
    const shapes = [[B, T, 96], [B, T, 96], [B, T, 160], [B, T, 160], [B, T, 160], [B, T, H, Dh], [B, T, H, Dh], [B, T, H, Dh], [B, T, H, Dh]];
    const inputs = shapes.map((s) => values(size(s)));
    const weights = [values(160 * 96), values(160 * 96)];
    const dys = [values(B * T * 160, 0.25), values(B * T * 160, 0.25)]; // output gradients of the two projections
    const run = () => {
      const [x, delta, gate, up, dyMlp, q, k, v, dyAtt] = shapes.map((s, i) => tf.tensor(inputs[i]!, s));
      const bytes = gpuBytes();
      const h = runFused<tf.Tensor>(FUSED.swiglu, { gate: gate!, up: up! });
      const grown = gpuBytes() - bytes;
      const att = runFused<tf.Tensor>(FUSED.attention, { q: q!, k: k!, v: v!, cos: tables.cos, sin: tables.sin });
      const outputs: [string, tf.Tensor][] = [
        ['RMSNorm', rmsNorm(x!, tf.fill([96], 0.75), 1e-5)],
        ['residual + RMSNorm', addRmsNorm(x!, delta!, tf.fill([96], 0.5), 1e-5)[1]],
        ['SwiGLU', h],
        ...(tf.engine().runKernel(gradOf(FUSED.swiglu), { dy: dyMlp!, gate: gate!, up: up! }) as tf.Tensor[]).map((t, i): [string, tf.Tensor] => [`SwiGLU's gradient ${i}`, t]),
        ...projectAll(x!, weights.map((w) => new Dense(tf.tensor(w, [160, 96])))).map((t, i): [string, tf.Tensor] => [`projection ${i}`, t]),
        ['one projection (o, down)', new Dense(tf.tensor(weights[0]!, [160, 96])).apply(x!)],
        ["the projections' input gradient", tf.engine().runKernel(gradOf(FUSED.projections),
          [tf.reshape(x!, [B * T, 96]), ...weights.map((w) => tf.tensor(w, [160, 96])), ...dys.map((d) => tf.tensor(d, [B * T, 160]))] as unknown as tf.NamedTensorMap) as tf.Tensor],
        ['flash attention', att],
        ...(tf.engine().runKernel(gradOf(FUSED.attention), { v: v!, cos: tables.cos, sin: tables.sin, dy: dyAtt!, out: att }) as tf.Tensor[]).map((t, i): [string, tf.Tensor] => [`flash attention d${'QKV'[i]}`, t]),
        ['dO (its copy written by the Δ pass)', dyAtt!],
      ];
      return { grown, outputs, h };
    };
    tf.engine().startScope(); // (what tidy does, across awaits)
    try {
      // The fp32 run's results: for the norms and SwiGLU the same kernels, which round what they store.
      const exact = await Promise.all(run().outputs.map(([, t]) => t.data()));
      cuda.matmulPrecision = 'bf16';
      const made = cuda.float32Made;
      const { grown, outputs, h } = run();
      assert.equal(grown, size(h.shape) * 2, `SwiGLU's output kept as bfloat16 only: ${grown} bytes`);
      const onlyBf16 = outputs.map(([label, t]) => [label, !cuda.hasFloat32(t)] as const);
      const keptAlone = ['residual + RMSNorm', 'SwiGLU', "SwiGLU's gradient 0", "SwiGLU's gradient 1", 'projection 0', 'projection 1', 'one projection (o, down)',
        "the projections' input gradient", 'flash attention', 'flash attention dQ', 'flash attention dK', 'flash attention dV'];
      assert.deepEqual(onlyBf16, outputs.map(([label]) => [label, keptAlone.includes(label)]));
      assert.equal(cuda.float32Made, made, 'no float32 values made from a copy');
      for (const [i, [label, t]] of outputs.entries()) {
        const rows = tf.reshape(t, [-1, t.shape[t.rank - 1]!]); // (shares the data, and so the copy)
        const w = tf.tensor(values(t.shape[t.rank - 1]! * 8), [t.shape[t.rank - 1]!, 8]);
        // add reads the float32 values (made from the copy, exactly, where there are none): converted again, the same bits.
        const [kept, fresh] = [tf.matMul(rows, w), tf.matMul(tf.add(rows, 0), w)];
        assert.deepEqual(await kept.data(), await fresh.data(), label);
        const got = await t.data();
        if (i < 5) assert.deepEqual(got, onlyBf16[i]![1] ? roundedToBf16(exact[i]!) : exact[i], `${label}: the float32 result${onlyBf16[i]![1] ? ' rounded' : ''}`);
        // Products and attention in bf16 against the fp32 run: within bf16's rounding (as the flash checks above).
        else assertClose({ shape: t.shape, dtype: 'float32', data: Array.from(exact[i]!) }, { shape: t.shape, dtype: t.dtype, data: Array.from(got) }, `${label} against fp32`, 3e-2);
      }
      assert.equal(cuda.float32Made, made + onlyBf16.filter(([, only]) => only).length, 'read: each kept as bfloat16 only made its float32 values once');
    } finally {
      tf.engine().endScope();
      cuda.matmulPrecision = 'fp32';
      tf.dispose([tables.cos, tables.sin]);
    }
  });

  it('AdamW: three fused updates of 70 parameters (two launches: 64 a launch) equal three plain ones, the gradient scale a tensor', async () => {
    // Sizes with and without a tail past a multiple of 4, one value alone; names with and without decay.
    const shapes = Array.from({ length: 70 }, (_, j) => (j % 5 === 0 ? [1] : j % 3 === 0 ? [33, 17] : [8, 4 + j]));
    const names = shapes.map((_, j) => (j % 2 === 0 ? `model.layers.${j}.mlp.up_proj.weight` : `model.layers.${j}.input_layernorm.weight`));
    const init = shapes.map((shape) => values(size(shape)));
    const grads = [0, 1, 2].map(() => shapes.map((shape) => values(size(shape))));
    const updated = await onBoth(() => {
      const params = new Map(names.map((name, j) => [name, tf.variable(tf.tensor(init[j]!, shapes[j]!))]));
      const adamw = new AdamW(params, { weightDecay: 0.1 });
      grads.forEach((g, i) => tf.tidy(() => adamw.update(new Map(names.map((name, j) => [name, tf.tensor(g[j]!, shapes[j]!)])), 1e-2 / (i + 1), tf.scalar(0.5))));
      const out = [...params.values()].map((p) => p.clone());
      adamw.dispose();
      tf.dispose([...params.values()]);
      return out;
    });
    names.forEach((name, j) => assertClose(updated[0][j]!, updated[1][j]!, `adamw ${name}`, 1e-5));
  });

  it("AdamW in bf16: the weight's kept bfloat16 copy holds the new values, rounded (a product with the identity reads it back)", async () => {
    const cuda = tf.findBackend('cuda') as CudaBackend;
    await tf.setBackend('cuda');
    const shape = [33, 17];
    cuda.matmulPrecision = 'bf16';
    tf.engine().startScope();
    try {
      const p = tf.variable(tf.tensor(values(size(shape)), shape));
      const eye = tf.eye(17);
      tf.matMul(p, eye); // a product read the weight: it has a kept copy now
      const adamw = new AdamW(new Map([['w', p]]));
      adamw.update(new Map([['w', tf.tensor(values(size(shape)), shape)]]), 1e-2);
      assert.ok(cuda.hasBf16(p), 'the copy is kept through the update');
      assert.deepEqual(await tf.matMul(p, eye).data(), roundedToBf16(await p.data()));
      adamw.dispose();
      p.dispose();
    } finally {
      tf.engine().endScope();
      cuda.matmulPrecision = 'fp32';
    }
  });
});
