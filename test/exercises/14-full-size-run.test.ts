// Exercise 14 tests: run against your work with `npm run check -- 14`.
import { describe, expect, it } from 'vitest';
import { exponentialMovingAverage, trainingHours } from '@exercise/14-full-size-run.js';
import { presetConfig, trainingFlopsPerToken } from '../../lib/model/config.js';

const close = (got: number[], want: number[]) => {
  expect(got).toHaveLength(want.length);
  got.forEach((v, i) => expect(v, `index ${i}`).toBeCloseTo(want[i]!, 12));
};

describe('exponentialMovingAverage', () => {
  it('divides by 1 − β^t: [1, 2, 3] at β 0.5 is [0.5/0.5, 1.25/0.75, 2.125/0.875]', () => {
    close(exponentialMovingAverage([1, 2, 3], 0.5), [1, 5 / 3, 17 / 7]);
  });

  it('weights the newest value by (1 − β) / (1 − β^t): [10, 0] at β 0.9 is [10, 9/1.9]', () => {
    close(exponentialMovingAverage([10, 0], 0.9), [10, 90 / 19]);
  });

  it('keeps a constant curve constant from the first value (no pull towards 0), and β = 0 is the identity', () => {
    close(exponentialMovingAverage([4, 4, 4, 4], 0.99), [4, 4, 4, 4]);
    close(exponentialMovingAverage([3, -1, 2.5], 0), [3, -1, 2.5]);
    expect(exponentialMovingAverage([], 0.9)).toEqual([]);
  });

  it('follows a step late, by ln 2 / ln(1/β) values to half of it', () => {
    const smoothed = exponentialMovingAverage([...Array<number>(1000).fill(0), ...Array<number>(100).fill(1)], 0.9);
    // After the step, s = 1 − 0.9^k (the old zeros' weight has long lost its bias correction): k = 7 is the first past ½.
    expect(smoothed[1000 + 5]!).toBeCloseTo(1 - 0.9 ** 6, 10);
    expect(smoothed[1000 + 5]!).toBeLessThan(0.5);
    expect(smoothed[1000 + 6]!).toBeGreaterThan(0.5);
  });
});

describe('trainingHours', () => {
  it('divides tokens by a measured rate: the recorded 92m run, 9,000 steps of 32 × 1,024 tokens at a median 494,642 tokens/s', () => {
    expect(trainingHours(294_912_000, { tokensPerSecond: 494_642 })).toBeCloseTo(294_912_000 / 494_642 / 3600, 12);
    expect(trainingHours(3600, { tokensPerSecond: 1 })).toBe(1);
  });

  it('turns FLOPs per token, MFU and peak into a rate: 1e9 tokens × 6e8 FLOPs at 50% of 1e15 FLOP/s is 1,200 s', () => {
    expect(trainingHours(1e9, { flopsPerToken: 6e8, mfu: 0.5, peakFlops: 1e15 })).toBeCloseTo(1 / 3, 12);
    expect(trainingHours(1e9, { flopsPerToken: 6e8, mfu: 0.5, peakFlops: 1e15, gpus: 4 })).toBeCloseTo(1 / 12, 12);
  });

  it('gives the same hours both ways at the MFU a measured rate implies (92m at vocabulary 6,400, H100 bf16 peak)', () => {
    const flopsPerToken = trainingFlopsPerToken(presetConfig('92m', { vocabSize: 6400 }), 1024); // ≈ 2.24e8
    const peakFlops = 989e12;
    const mfu = (494_642 * flopsPerToken) / peakFlops;
    expect(mfu).toBeCloseTo(0.1121, 3);
    expect(trainingHours(6.45e8, { flopsPerToken, mfu, peakFlops })).toBeCloseTo(trainingHours(6.45e8, { tokensPerSecond: 494_642 }), 10);
  });
});
