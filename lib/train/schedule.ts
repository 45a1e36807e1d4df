// The learning-rate schedule of pretraining: a linear warmup (large early updates on random weights
// diverge), then a cosine decay to a floor, so late steps refine rather than jump.

/** Settings of the cosine schedule. */
export interface CosineSchedule {
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  /** Steps of linear warmup from lr/warmup to lr. */
  warmup: number;
  /** Total steps; the decay ends here. */
  steps: number;
  /** Floor the decay ends at (e.g. lr/10). */
  minLr: number;
}

/** Learning rate for `step` (0-based): linear warmup, cosine decay to minLr, minLr afterwards. */
export function cosineLr(step: number, s: CosineSchedule): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  if (step >= s.steps) return s.minLr;
  const progress = (step - s.warmup) / Math.max(1, s.steps - s.warmup); // 0 → 1
  return s.minLr + 0.5 * (s.lr - s.minLr) * (1 + Math.cos(Math.PI * progress));
}
