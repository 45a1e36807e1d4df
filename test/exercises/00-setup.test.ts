// Exercise 00 tests: run against your work with `npm run check -- 00`.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { logSoftmax, logSumExp, softmax } from '@exercise/00-setup.js';
import { initBackend } from '../../lib/backend/init.js';

beforeAll(async () => {
  await initBackend('cpu', { quiet: true });
});

// Reference values computed by hand in float64: e.g. logsumexp([1000, 1001, 1002]) = 1002 + ln(1 + e^-1 + e^-2).
const LSE_BIG = 1002 + Math.log(1 + Math.exp(-1) + Math.exp(-2));
const SOFTMAX_123 = [0.09003057317038046, 0.24472847105479764, 0.6652409557748219];

function values(t: tf.Tensor): number[] {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
}

function expectClose(actual: number[], expected: number[], tol = 1e-5): void {
  expect(actual.length, 'number of values').toBe(expected.length);
  actual.forEach((a, i) => {
    expect(Number.isFinite(a), `value ${i} is ${a}, expected a finite number`).toBe(true);
    expect(Math.abs(a - expected[i]!), `value ${i}: got ${a}, expected ${expected[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected[i]!)));
  });
}

describe('logSumExp', () => {
  it('matches ln(sum(exp(x))) on small inputs', () => {
    expectClose(values(logSumExp(tf.tensor1d([1, 2, 3]))), [Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3))]);
  });
  it('does not overflow for large inputs', () => {
    expectClose(values(logSumExp(tf.tensor1d([1000, 1001, 1002]))), [LSE_BIG]);
    expectClose(values(logSumExp(tf.tensor1d([-1000, -1001, -1002]))), [LSE_BIG - 2002]);
  });
  it('reduces the given axis and drops it from the shape', () => {
    const x = tf.tensor2d([[1, 2, 3], [1000, 1001, 1002]]);
    const rows = logSumExp(x, -1);
    expect(rows.shape).toEqual([2]);
    expectClose(values(rows), [LSE_BIG - 999, LSE_BIG]);
    const cols = logSumExp(tf.tensor2d([[0, 0], [0, Math.log(3)]]), 0);
    expect(cols.shape).toEqual([2]);
    expectClose(values(cols), [Math.log(2), Math.log(4)]);
  });
});

describe('softmax', () => {
  it('matches hand-computed probabilities', () => {
    expectClose(values(softmax(tf.tensor1d([1, 2, 3]))), SOFTMAX_123);
  });
  it('is shift-invariant and finite for large inputs', () => {
    expectClose(values(softmax(tf.tensor1d([1001, 1002, 1003]))), SOFTMAX_123);
    expectClose(values(softmax(tf.tensor1d([-5000, 0, -5000]))), [0, 1, 0]);
  });
  it('normalises along the requested axis and keeps the shape', () => {
    const p = softmax(tf.tensor2d([[1, 5], [2, 5], [3, 5]]), 0);
    expect(p.shape).toEqual([3, 2]);
    expectClose(values(p), [SOFTMAX_123[0]!, 1 / 3, SOFTMAX_123[1]!, 1 / 3, SOFTMAX_123[2]!, 1 / 3]);
  });
});

describe('logSoftmax', () => {
  it('equals log of softmax where that is finite', () => {
    expectClose(values(logSoftmax(tf.tensor1d([1, 2, 3]))), SOFTMAX_123.map(Math.log));
  });
  it('stays finite where softmax underflows to 0', () => {
    expectClose(values(logSoftmax(tf.tensor1d([0, 1000]))), [-1000, 0]);
  });
  it('keeps the shape of a 2-D input', () => {
    const l = logSoftmax(tf.tensor2d([[1, 2, 3], [1, 2, 3]]));
    expect(l.shape).toEqual([2, 3]);
    expectClose(values(l), [...SOFTMAX_123.map(Math.log), ...SOFTMAX_123.map(Math.log)]);
  });
});
