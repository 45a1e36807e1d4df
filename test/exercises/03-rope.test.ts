// Exercise 03 tests: run against your work with `npm run check -- 03`.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { dot, ropeFrequencies, rotate } from '@exercise/03-rope.js';
import { initBackend } from '../../lib/backend/init.js';
import { applyRope, ropeTables } from '../../lib/model/rope.js';

await initBackend('cpu', { quiet: true });

describe('ropeFrequencies', () => {
  it('falls geometrically from 1', () => {
    const f = ropeFrequencies(8, 10000);
    expect(f.length).toBe(4);
    [1, 0.1, 0.01, 0.001].forEach((v, i) => expect(f[i]).toBeCloseTo(v, 10));
  });
});

describe('rotate', () => {
  it('leaves position 0 unchanged and keeps the length', () => {
    const x = [1, 2, 3, 4];
    expect(rotate(x, 0)).toEqual(x);
    const y = rotate(x, 7);
    expect(Math.hypot(...y)).toBeCloseTo(Math.hypot(...x), 10);
  });
  it('turns the first pair by exactly the position (frequency 1)', () => {
    const y = rotate([1, 0, 0, 0], Math.PI / 2); // pair (x0, x2) turns by 90°
    expect(y[0]).toBeCloseTo(0, 10);
    expect(y[2]).toBeCloseTo(1, 10);
  });
  it('matches the library (Hugging Face layout)', () => {
    const x = [0.3, -1.2, 0.5, 2, 0.7, -0.1, 1.1, 0.4];
    const tables = ropeTables(8, 32, 10000);
    const lib = tf.tidy(() => applyRope(tf.tensor4d(x, [1, 1, 1, 8]), tables, 13).dataSync());
    rotate(x, 13).forEach((v, i) => expect(v).toBeCloseTo(lib[i]!, 5));
  });
});

describe('dot', () => {
  it('of rotated vectors depends only on the distance', () => {
    expect(dot([1, 2, 3], [4, 5, 6])).toBe(32);
    const q = [0.2, 0.9, -0.4, 1.3], k = [1.1, -0.3, 0.8, 0.5];
    expect(dot(rotate(q, 9), rotate(k, 4))).toBeCloseTo(dot(rotate(q, 25), rotate(k, 20)), 10);
  });
});
