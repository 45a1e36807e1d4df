import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { AdamW, defaultDecays } from '../../../lib/train/adamw.js';
import { clipScale, globalNorm } from '../../../lib/train/clip.js';
import { cosineLr } from '../../../lib/train/schedule.js';

await initBackend('cpu', { quiet: true });

describe('cosineLr', () => {
  const s = { lr: 1e-3, warmup: 10, steps: 110, minLr: 1e-4 };
  it('warms up linearly, peaks, decays by a cosine to the floor and stays there', () => {
    expect(cosineLr(0, s)).toBeCloseTo(1e-4, 12);
    expect(cosineLr(4, s)).toBeCloseTo(5e-4, 12);
    expect(cosineLr(9, s)).toBeCloseTo(1e-3, 12);
    expect(cosineLr(10, s)).toBeCloseTo(1e-3, 12); // start of the decay
    expect(cosineLr(60, s)).toBeCloseTo(5.5e-4, 12); // half way: (lr + minLr) / 2
    expect(cosineLr(35, s)).toBeCloseTo(1e-4 + 0.5 * 9e-4 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(cosineLr(110, s)).toBe(1e-4);
    expect(cosineLr(500, s)).toBe(1e-4);
  });
});

describe('global-norm clipping', () => {
  it('measures all gradients together and scales only when the norm is above the limit', () => {
    const norm = globalNorm([tf.tensor([3, 0]), tf.tensor2d([[0, 4]])]);
    expect(norm.dataSync()[0]).toBeCloseTo(5, 6);
    expect(clipScale(norm, 1).dataSync()[0]).toBeCloseTo(0.2, 6);
    expect(clipScale(tf.scalar(0.5), 1).dataSync()[0]).toBe(1);
    expect(clipScale(tf.scalar(0), 1).dataSync()[0]).toBe(1); // (no gradient at all: nothing to clip)
    expect([0, Infinity].map((maxNorm) => clipScale(tf.scalar(7), maxNorm).dataSync()[0])).toEqual([1, 1]); // --clip 0: no clipping
  });
});

describe('AdamW', () => {
  it('matches the update written out by hand for two steps, with decay only where it applies', () => {
    const params = new Map([
      ['model.layers.0.mlp.up_proj.weight', tf.variable(tf.tensor([0.5, -1, 2]))],
      ['model.norm.weight', tf.variable(tf.tensor([1, 1, 1]))],
    ]);
    const o = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const adamw = new AdamW(params, o);
    const grads = [[0.1, -0.2, 0.3], [1, -2, 0.5]];
    const lrs = [0.01, 0.005];
    const scale = 0.5;
    // Reference in plain numbers (PyTorch's AdamW): p ← p(1 − lr·wd) − lr·m̂/(√v̂ + eps).
    const expected = new Map([...params].map(([n, p]) => [n, Array.from(p.dataSync())]));
    const m = new Map([...params.keys()].map((n) => [n, [0, 0, 0]])), v = new Map([...params.keys()].map((n) => [n, [0, 0, 0]]));
    for (let t = 1; t <= 2; t++) {
      adamw.update(new Map([...params.keys()].map((n) => [n, tf.tensor(grads[t - 1]!)])), lrs[t - 1]!, scale);
      for (const name of params.keys()) {
        const p = expected.get(name)!, mm = m.get(name)!, vv = v.get(name)!;
        for (let i = 0; i < 3; i++) {
          const g = grads[t - 1]![i]! * scale;
          mm[i] = 0.9 * mm[i]! + 0.1 * g;
          vv[i] = 0.95 * vv[i]! + 0.05 * g * g;
          const decay = name.includes('norm') ? 1 : 1 - lrs[t - 1]! * 0.1;
          p[i] = p[i]! * decay - (lrs[t - 1]! * (mm[i]! / (1 - 0.9 ** t))) / (Math.sqrt(vv[i]! / (1 - 0.95 ** t)) + 1e-8);
        }
      }
    }
    for (const [name, p] of params) Array.from(p.dataSync()).forEach((x, i) => expect(x, `${name}[${i}]`).toBeCloseTo(expected.get(name)![i]!, 6));
    expect(adamw.t).toBe(2);
  });

  it('decays weight matrices but not norms or the embedding', () => {
    expect(['model.embed_tokens.weight', 'model.layers.3.input_layernorm.weight', 'model.norm.weight', 'lm_head.weight', 'model.layers.0.self_attn.q_proj.weight'].map(defaultDecays))
      .toEqual([false, false, false, true, true]);
  });

  it('restores its moments exactly and names a missing one', () => {
    const params = new Map([['w', tf.variable(tf.tensor([1, 2]))]]);
    const a = new AdamW(params);
    a.update(new Map([['w', tf.tensor([0.3, -0.1])]]), 0.1);
    const b = new AdamW(params);
    b.loadState(a.stateTensors(), a.t, 'opt.safetensors');
    expect([...b.stateTensors()]).toEqual([...a.stateTensors()]);
    expect(() => b.loadState(new Map(), 1, 'opt.safetensors')).toThrow('opt.safetensors: m.w: missing, expected the optimizer moment of w');
  });
});
