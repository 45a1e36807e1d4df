// Exercise 07 tests: run against your work with `npm run check -- 07`.
import { describe, expect, it } from 'vitest';
import { adamwStep, clipByGlobalNorm, cosineLr } from '@exercise/07-pretraining.js';
import { cosineLr as libCosine } from '../../lib/train/schedule.js';

describe('cosineLr', () => {
  it('warms up linearly, then follows a cosine from lr to minLr, then stays at minLr', () => {
    expect(cosineLr(0, 1e-3, 10, 110, 1e-4)).toBeCloseTo(1e-4, 12);
    expect(cosineLr(9, 1e-3, 10, 110, 1e-4)).toBeCloseTo(1e-3, 12);
    expect(cosineLr(60, 1e-3, 10, 110, 1e-4)).toBeCloseTo(5.5e-4, 12);
    expect(cosineLr(110, 1e-3, 10, 110, 1e-4)).toBeCloseTo(1e-4, 12);
    expect(cosineLr(1000, 1e-3, 10, 110, 1e-4)).toBeCloseTo(1e-4, 12);
  });
  it('agrees with lib/train/schedule.ts at every step', () => {
    for (let step = 0; step < 130; step++) expect(cosineLr(step, 3e-3, 17, 120, 3e-4)).toBeCloseTo(libCosine(step, { lr: 3e-3, warmup: 17, steps: 120, minLr: 3e-4 }), 12);
  });
});

describe('clipByGlobalNorm', () => {
  it('scales every tensor by the same factor when the joint norm is too large', () => {
    const { grads, norm } = clipByGlobalNorm([[3, 0], [0, 4]], 1);
    expect(norm).toBeCloseTo(5, 12);
    expect(grads[0]![0]).toBeCloseTo(0.6, 12);
    expect(grads[1]![1]).toBeCloseTo(0.8, 12);
  });
  it('leaves small gradients alone', () => {
    expect(clipByGlobalNorm([[0.3], [0.4]], 1)).toEqual({ grads: [[0.3], [0.4]], norm: expect.closeTo(0.5, 12) });
  });
});

describe('adamwStep', () => {
  it('matches torch.optim.AdamW (lr 0.01, betas 0.9/0.95, eps 1e-8, weight decay 0.1) over three steps', () => {
    // Printed by PyTorch 2.13: params after each step, then exp_avg (m) and exp_avg_sq (v) after the last.
    const expected = [[0.489500016, -0.989000022, 1.988000035], [0.481037229, -0.980037808, 1.976241827], [0.477829903, -0.972814739, 1.96474719]];
    const grads = [[0.1, -0.2, 0.3], [1, -2, 0.5], [-0.5, 0, 0.25]];
    const state = { m: [0, 0, 0], v: [0, 0, 0], t: 0 };
    let p = [0.5, -1, 2];
    grads.forEach((g, k) => {
      p = adamwStep(p, g, state, 0.01, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
      p.forEach((x, i) => expect(x).toBeCloseTo(expected[k]![i]!, 6));
    });
    expect(state.t).toBe(3);
    [0.0481000021, -0.196200013, 0.0943000019].forEach((m, i) => expect(state.m[i]).toBeCloseTo(m, 7));
    [0.0604512505, 0.191805005, 0.0190612506].forEach((v, i) => expect(state.v[i]).toBeCloseTo(v, 7));
  });
});
