// Solutions 10: DPO on plain numbers — sequence log-probabilities, the loss, the reward metrics.
//
// Rows come as DpoLoader lays them out: for n pairs, 2n rows — the chosen answers (rows 0 … n−1), then the
// rejected ones in the same order (rows n … 2n−1), so pair i is rows i and n + i.

/** Per row, the summed log-probability of its answer: Σₜ weights[b][t]·logProbs[b][t]. */
export function sequenceLogProbs(logProbs: number[][], weights: number[][]): number[] {
  return logProbs.map((row, b) => row.reduce((sum, lp, t) => sum + weights[b]![t]! * lp, 0));
}

/** How a pair's policy and reference log-probabilities become a loss (lib/train/objectives/dpo.ts). */
export interface DpoLossOptions {
  beta: number;
  /** 'sigmoid': −log σ(β·m); 'ipo': (m − 1/(2β))², with m on per-token means. */
  loss: 'sigmoid' | 'ipo';
}

/** −log σ(x) = log(1 + e^(−x)), without overflow for large |x|. */
const minusLogSigmoid = (x: number) => (x >= 0 ? Math.log1p(Math.exp(-x)) : -x + Math.log1p(Math.exp(x)));

/**
 * The DPO loss, the mean over the n pairs of 2n rows: with m = (πc − πr) − (ρc − ρr) from the policy's and
 * the reference's summed log-probabilities, −log σ(β·m) ('sigmoid'), or for 'ipo' (m − 1/(2β))² where every
 * π and ρ is first divided by its row's answer token count (`counts`, needed only for 'ipo').
 */
export function dpoLoss(policy: number[], reference: number[], options: DpoLossOptions, counts?: number[]): number {
  const { beta, loss } = options;
  if (loss === 'ipo' && !counts) throw new Error('dpoLoss: ipo needs the token counts');
  const per = (values: number[]) => (loss === 'ipo' ? values.map((v, b) => v / counts![b]!) : values);
  const pi = per(policy), rho = per(reference);
  const n = pi.length / 2;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const m = (pi[i]! - pi[n + i]!) - (rho[i]! - rho[n + i]!);
    total += loss === 'sigmoid' ? minusLogSigmoid(beta * m) : (m - 1 / (2 * beta)) ** 2;
  }
  return total / n;
}

/** TRL's reward metrics of a batch: the implicit reward of an answer is β·(π − ρ). */
export interface RewardMetrics {
  /** Mean reward of the chosen answers (rewards/chosen). */
  chosen: number;
  /** Mean reward of the rejected answers (rewards/rejected). */
  rejected: number;
  /** Share of pairs whose chosen reward is strictly larger (rewards/accuracies). */
  accuracy: number;
  /** Mean of chosen reward − rejected reward (rewards/margins). */
  margin: number;
}

/** The reward metrics of n pairs of 2n rows, from the policy's and the reference's log-probabilities. */
export function rewardMetrics(policy: number[], reference: number[], beta: number): RewardMetrics {
  const reward = policy.map((p, b) => beta * (p - reference[b]!));
  const n = reward.length / 2;
  let chosen = 0, rejected = 0, wins = 0;
  for (let i = 0; i < n; i++) {
    chosen += reward[i]!;
    rejected += reward[n + i]!;
    if (reward[i]! > reward[n + i]!) wins++;
  }
  return { chosen: chosen / n, rejected: rejected / n, accuracy: wins / n, margin: (chosen - rejected) / n };
}
