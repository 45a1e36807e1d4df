// Exercise 10 tests: run against your work with `npm run check -- 10`.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { dpoLoss, rewardMetrics, sequenceLogProbs } from '@exercise/10-dpo.js';
import { initBackend } from '../../lib/backend/init.js';
import { loadModelDir } from '../../lib/io/model-dir.js';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { sequenceLogProbs as libSequenceLogProbs } from '../../lib/train/objectives/dpo.js';

await initBackend('cpu', { quiet: true });

// TRL's formulas in PyTorch (test/fixtures/dpo/make_fixtures.py) on the Llama fixture's model: 3 pairs as 6
// rows (chosen first), for 'sigmoid' (β 0.1, with an NLL term of weight 0.5) and 'ipo' (β 0.5).
const fixture = readSafetensors('test/fixtures/dpo/expected.safetensors').tensors;
const value = (name: string) => fixture.get(name)!.values[0]!;
const rows = (name: string) => {
  const t = fixture.get(name)!;
  const [b, n] = t.shape as [number, number];
  return Array.from({ length: b }, (_, i) => Array.from(t.values.subarray(i * n, (i + 1) * n)));
};
const weights = rows('weights');
const reference = Array.from(fixture.get('reference')!.values);
const counts = weights.map((row) => row.reduce((s, w) => s + w, 0));

/** The fixture model's per-token log-probabilities and lib's summed ones, on the fixture's batch. */
function fixtureLogProbs(): { perToken: number[][]; sums: number[] } {
  const { model } = loadModelDir('test/fixtures/llama/hf');
  const result = tf.tidy(() => {
    const inputs = tf.tensor2d(rows('inputs'), undefined, 'int32');
    const targets = tf.tensor2d(rows('targets'), undefined, 'int32');
    return {
      perToken: model.tokenLogProbs(inputs, targets).arraySync(),
      sums: Array.from(libSequenceLogProbs(model, inputs, targets, tf.tensor2d(weights)).dataSync()),
    };
  });
  model.dispose();
  return result;
}
const { perToken, sums } = fixtureLogProbs();
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

describe('sequenceLogProbs', () => {
  it('adds up the weighted log-probabilities of each row', () => {
    expect(sequenceLogProbs([[-1, -2, -3], [-0.5, -0.25, -4]], [[0, 1, 1], [1, 1, 0]])).toEqual([-5, -0.75]);
    expect(sequenceLogProbs([[-7, -1]], [[0, 0]])).toEqual([0]);
  });

  it("agrees with lib's sequenceLogProbs and PyTorch's logps/chosen, logps/rejected on the fixture's batch", () => {
    const mine = sequenceLogProbs(perToken, weights);
    mine.forEach((s, b) => expect(s, `row ${b}`).toBeCloseTo(sums[b]!, 3));
    expect(mean(mine.slice(0, 3))).toBeCloseTo(value('sigmoid.logps/chosen'), 4);
    expect(mean(mine.slice(3))).toBeCloseTo(value('sigmoid.logps/rejected'), 4);
    // IPO's logps are per-token means.
    expect(mean(mine.slice(0, 3).map((s, b) => s / counts[b]!))).toBeCloseTo(value('ipo.logps/chosen'), 4);
  });
});

describe('dpoLoss', () => {
  it('is −log σ(β·m) for the sigmoid loss, m = (πc − πr) − (ρc − ρr)', () => {
    // One pair: m = (−10 − (−14)) − (−12 − (−12)) = 4; β 0.5 → −log σ(2).
    expect(dpoLoss([-10, -14], [-12, -12], { beta: 0.5, loss: 'sigmoid' })).toBeCloseTo(Math.log(1 + Math.exp(-2)), 12);
    // At the start the policy is the reference: m = 0 and the loss is log 2 for every β.
    expect(dpoLoss([-3, -5, -7, -9], [-3, -5, -7, -9], { beta: 0.1, loss: 'sigmoid' })).toBeCloseTo(Math.log(2), 12);
    // Two pairs, rows [c0, c1, r0, r1]: m0 = (−1 + 3) − 0 = 2, m1 = (−2 + 1) − 0 = −1; β 1.
    expect(dpoLoss([-1, -2, -3, -1], [0, 0, 0, 0], { beta: 1, loss: 'sigmoid' })).toBeCloseTo((Math.log(1 + Math.exp(-2)) + Math.log(1 + Math.exp(1))) / 2, 12);
    // A large margin does not overflow.
    expect(dpoLoss([0, -5000], [0, 0], { beta: 1, loss: 'sigmoid' })).toBeCloseTo(0, 12);
    expect(dpoLoss([-5000, 0], [0, 0], { beta: 1, loss: 'sigmoid' })).toBeCloseTo(5000, 9);
  });

  it('is (m − 1/(2β))² on per-token means for IPO', () => {
    // Chosen −8 over 4 tokens (−2), rejected −9 over 3 (−3); reference −10/4, −6/3: m = 1 − (−0.5) = 1.5; β 0.5 → (1.5 − 1)².
    expect(dpoLoss([-8, -9], [-10, -6], { beta: 0.5, loss: 'ipo' }, [4, 3])).toBeCloseTo(0.25, 12);
  });

  it("gives PyTorch's loss on the fixture's batch, from the fixture model's log-probabilities", () => {
    // The sigmoid fixture adds 0.5 × the chosen answers' mean NLL per token.
    const nll = -(sums[0]! + sums[1]! + sums[2]!) / (counts[0]! + counts[1]! + counts[2]!);
    expect(dpoLoss(sums, reference, { beta: 0.1, loss: 'sigmoid' }) + 0.5 * nll).toBeCloseTo(value('sigmoid.loss'), 4);
    expect(dpoLoss(sums, reference, { beta: 0.5, loss: 'ipo' }, counts)).toBeCloseTo(value('ipo.loss'), 4);
  });
});

describe('rewardMetrics', () => {
  it('averages β·(π − ρ) of the chosen and the rejected, and counts the pairs the chosen wins', () => {
    // Rewards with β 0.5: chosen [1, −1, 2], rejected [0, 0, 2] (a tie does not count as a win).
    const metrics = rewardMetrics([2, -2, 4, 0, 0, 4], [0, 0, 0, 0, 0, 0], 0.5);
    expect(metrics.chosen).toBeCloseTo(2 / 3, 12);
    expect(metrics.rejected).toBeCloseTo(2 / 3, 12);
    expect(metrics.accuracy).toBeCloseTo(1 / 3, 12);
    expect(metrics.margin).toBeCloseTo(0, 12);
    const shifted = rewardMetrics([-10, -20], [-12, -18], 0.1); // rewards 0.2 and −0.2
    expect(shifted.accuracy).toBe(1);
    expect(shifted.margin).toBeCloseTo(0.4, 12);
  });

  it("gives PyTorch's rewards/… metrics on the fixture's batch (sigmoid on sums, IPO on per-token means)", () => {
    const perTokenMean = (xs: number[]) => xs.map((x, b) => x / counts[b]!);
    for (const [name, beta, policy, ref] of [
      ['sigmoid', 0.1, sums, reference],
      ['ipo', 0.5, perTokenMean(sums), perTokenMean(reference)],
    ] as const) {
      const metrics = rewardMetrics([...policy], [...ref], beta);
      expect(metrics.chosen, `${name} chosen`).toBeCloseTo(value(`${name}.rewards/chosen`), 4);
      expect(metrics.rejected, `${name} rejected`).toBeCloseTo(value(`${name}.rewards/rejected`), 4);
      expect(metrics.accuracy, `${name} accuracy`).toBeCloseTo(value(`${name}.rewards/accuracies`), 4);
      expect(metrics.margin, `${name} margin`).toBeCloseTo(value(`${name}.rewards/margins`), 4);
    }
  });
});
