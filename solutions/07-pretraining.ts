// Solutions 07: the three small formulas that steer pretraining, on plain numbers.

/** Learning rate at `step` (0-based): linear warmup lr·(step+1)/warmup, then cosine from lr down to minLr at `steps`, minLr after. */
export function cosineLr(step: number, lr: number, warmup: number, steps: number, minLr: number): number {
  if (step < warmup) return (lr * (step + 1)) / warmup;
  if (step >= steps) return minLr;
  const p = (step - warmup) / Math.max(1, steps - warmup);
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * p));
}

/** Scale all gradients together so that their global norm √(Σ g²) is at most maxNorm; returns the norm before clipping. */
export function clipByGlobalNorm(grads: number[][], maxNorm: number): { grads: number[][]; norm: number } {
  const norm = Math.sqrt(grads.reduce((sum, g) => sum + g.reduce((s, x) => s + x * x, 0), 0));
  const scale = norm > maxNorm ? maxNorm / norm : 1;
  return { grads: grads.map((g) => g.map((x) => x * scale)), norm };
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
  state.t++;
  return param.map((p, i) => {
    const g = grad[i]!;
    state.m[i] = h.beta1 * state.m[i]! + (1 - h.beta1) * g;
    state.v[i] = h.beta2 * state.v[i]! + (1 - h.beta2) * g * g;
    const mHat = state.m[i]! / (1 - h.beta1 ** state.t);
    const vHat = state.v[i]! / (1 - h.beta2 ** state.t);
    return p * (1 - lr * h.weightDecay) - (lr * mHat) / (Math.sqrt(vHat) + h.eps);
  });
}
