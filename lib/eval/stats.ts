// How sure an accuracy is. n items scored right or wrong are n coin flips: the Wilson score interval
// says where the true accuracy lies with 95% confidence — on 100 items a model at 30% is not shown to
// beat chance (25%), on 1,000 it is.

/** Correct out of n, the accuracy and its 95% interval. */
export interface Accuracy {
  correct: number;
  n: number;
  /** correct / n (NaN for n = 0). */
  accuracy: number;
  /** The Wilson score interval at 95% ([NaN, NaN] for n = 0). */
  interval: [low: number, high: number];
}

/** z of a two-sided 95% interval of the normal distribution. */
const Z95 = 1.959963984540054;

/** Accuracy of `correct` right answers out of `n`, with its Wilson interval. */
export function accuracy(correct: number, n: number): Accuracy {
  return { correct, n, accuracy: n > 0 ? correct / n : NaN, interval: wilsonInterval(correct, n) };
}

/**
 * The Wilson score interval of a binomial proportion: the p whose normal test does not reject k of n.
 * Unlike p ± z·sqrt(p(1−p)/n) it stays within [0, 1] and is not empty at p = 0 or 1.
 */
export function wilsonInterval(k: number, n: number, z = Z95): [number, number] {
  if (n === 0) return [NaN, NaN];
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // Exact ends for all wrong or all right: rounding would leave the low end a hair above 0 (or high below 1).
  return [k === 0 ? 0 : Math.max(0, centre - half), k === n ? 1 : Math.min(1, centre + half)];
}
