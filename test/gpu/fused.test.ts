// GPU suite: each fused op on cuda against the plain tfjs composition on cpu — values and gradients.
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { attention } from '../../lib/model/attention.js';
import { headCrossEntropy } from '../../lib/model/loss.js';
import { swiglu } from '../../lib/model/mlp.js';
import { rmsNorm } from '../../lib/model/rmsnorm.js';
import { applyRope, ropeTables } from '../../lib/model/rope.js';
import { Rng } from '../../lib/rng.js';
import { AdamW } from '../../lib/train/adamw.js';
import { againstCpu, assertClose, onBoth, openGpu } from './gpu.js';

const gpu = openGpu();

describe('fused ops on cuda match the plain composition on cpu', { skip: gpu.skip }, () => {
  againstCpu();

  const rng = new Rng(11);
  const values = (n: number, scale = 1) => Array.from({ length: n }, () => scale * (2 * rng.next() - 1));
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

  /**
   * f(inputs) and the gradient of Σ f(inputs)·r (r random, fixed) with respect to every input, on both
   * backends; on cuda f runs through the fused kernels, on cpu through the plain ops.
   */
  async function check(label: string, shapes: number[][], f: (xs: tf.Tensor[]) => tf.Tensor, tol: number, scale = 1): Promise<void> {
    const inputs = shapes.map((s) => values(size(s), scale));
    let weights: number[] | null = null;
    const [cpu, cuda] = await onBoth(() => {
      const xs = shapes.map((s, i) => tf.tensor(inputs[i]!, s));
      const y = f(xs);
      weights ??= values(y.size);
      const r = tf.tensor(weights, y.shape);
      const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(a), r)))(xs);
      return [y, ...grads];
    });
    cpu.forEach((c, i) => assertClose(c, cuda[i]!, `${label}: ${i === 0 ? 'value' : `gradient of input ${i - 1}`}`, tol));
  }

  it('RMSNorm (D = 37 and 512) and its gradients for x and the weight', async () => {
    for (const D of [37, 512]) await check(`rmsNorm D=${D}`, [[3, 5, D], [D]], ([x, w]) => rmsNorm(x!, w!, 1e-5), 1e-4);
  });

  it('SwiGLU MLP and its gradients', async () => {
    await check('swiglu', [[2, 7, 16], [40, 16], [40, 16], [16, 40]], ([x, gate, up, down]) => swiglu(x!, { gate: gate!, up: up!, down: down! }), 1e-4);
  });

  it('RoPE at offsets 0 and 3 and its gradient', async () => {
    const tables = ropeTables(8, 16, 10000);
    for (const offset of [0, 3]) await check(`rope offset ${offset}`, [[2, 3, 7, 8]], ([x]) => applyRope(x!, tables, offset), 1e-5);
    tf.dispose([tables.cos, tables.sin]);
  });

  it('causal attention (GQA 4/2 heads, fused masked softmax) and its gradients', async () => {
    const tables = ropeTables(8, 64, 10000);
    const D = 32;
    await check('attention', [[2, 33, D], [D, D], [16, D], [16, D], [D, D]],
      ([x, q, k, v, o]) => attention(x as tf.Tensor3D, { q: q!, k: k!, v: v!, o: o! }, { heads: 4, kvHeads: 2, rope: tables, offset: 0 }), 2e-4);
    tf.dispose([tables.cos, tables.sin]);
  });

  it('LM head + cross-entropy over vocabularies of 64 and 64,798 (padded to 64,832), and its gradients', async () => {
    for (const V of [64, 64798]) {
      const targets = Array.from({ length: 6 }, () => rng.int(V));
      await check(`cross-entropy V=${V}`, [[2, 3, 16], [V, 16]], ([h, w]) => headCrossEntropy(h as tf.Tensor3D, w as tf.Tensor2D, tf.tensor2d(targets, [2, 3], 'int32')), 1e-4, 2);
    }
  });

  it('AdamW: three fused updates equal three plain ones', async () => {
    const shape = [33, 17];
    const init = values(size(shape));
    const grads = [0, 1, 2].map(() => values(size(shape)));
    const [cpu, cuda] = await onBoth(() => {
      const p = tf.variable(tf.tensor(init, shape));
      const adamw = new AdamW(new Map([['w', p]]), { weightDecay: 0.1 });
      grads.forEach((g, i) => adamw.update(new Map([['w', tf.tensor(g, shape)]]), 1e-2 / (i + 1), 0.5));
      const out = p.clone();
      adamw.dispose();
      p.dispose();
      return out;
    });
    assertClose(cpu[0]!, cuda[0]!, 'adamw', 1e-5);
  });
});
