// Exercises 07: the three small formulas that steer pretraining, on plain numbers. Run `npm run check -- 07`.

/** Learning rate at `step` (0-based): linear warmup lr·(step+1)/warmup, then cosine from lr down to minLr at `steps`, minLr after. */
export function cosineLr(step: number, lr: number, warmup: number, steps: number, minLr: number): number {
  throw new Error('TODO: cosineLr — warmup: lr·(step+1)/warmup; then p = (step−warmup)/(steps−warmup), minLr + ½(lr−minLr)(1+cos πp)');
}

/** Scale all gradients together so that their global norm √(Σ g²) is at most maxNorm; returns the norm before clipping. */
export function clipByGlobalNorm(grads: number[][], maxNorm: number): { grads: number[][]; norm: number } {
  throw new Error('TODO: clipByGlobalNorm — norm = √(Σ over all tensors Σ g²); if norm > maxNorm multiply every g by maxNorm/norm');
}

/** AdamW's running state for one parameter tensor. */
export interface AdamWState {
  m: number[];
  v: number[];
  /** Updates done so far. */
  t: number;
}

/** AdamW hyper-parameters. */
export interface AdamWHyper {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/**
 * One AdamW update (PyTorch's torch.optim.AdamW): t += 1; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
 * p ← p·(1 − lr·wd) − lr · (m/(1−β1^t)) / (√(v/(1−β2^t)) + eps). Updates `state`, returns the new parameter.
 */
export function adamwStep(param: number[], grad: number[], state: AdamWState, lr: number, h: AdamWHyper): number[] {
  throw new Error('TODO: adamwStep — update t, m, v in state, then decay and step the parameter as in the doc comment');
}
