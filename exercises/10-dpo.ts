// Exercises 10: DPO on plain numbers — sequence log-probabilities, the loss, the reward metrics.
// Run `npm run check -- 10`.
//
// Rows come as DpoLoader lays them out: for n pairs, 2n rows — the chosen answers (rows 0 … n−1), then the
// rejected ones in the same order (rows n … 2n−1), so pair i is rows i and n + i.

/** Per row, the summed log-probability of its answer: Σₜ weights[b][t]·logProbs[b][t]. */
export function sequenceLogProbs(logProbs: number[][], weights: number[][]): number[] {
  throw new Error('TODO: sequenceLogProbs — for each row b add up weights[b][t] * logProbs[b][t] over t (prompt and padding have weight 0)');
}

/** How a pair's policy and reference log-probabilities become a loss (lib/train/objectives/dpo.ts). */
export interface DpoLossOptions {
  beta: number;
  /** 'sigmoid': −log σ(β·m); 'ipo': (m − 1/(2β))², with m on per-token means. */
  loss: 'sigmoid' | 'ipo';
}

/**
 * The DPO loss, the mean over the n pairs of 2n rows: with m = (πc − πr) − (ρc − ρr) from the policy's and
 * the reference's summed log-probabilities, −log σ(β·m) ('sigmoid'), or for 'ipo' (m − 1/(2β))² where every
 * π and ρ is first divided by its row's answer token count (`counts`, needed only for 'ipo').
 */
export function dpoLoss(policy: number[], reference: number[], options: DpoLossOptions, counts?: number[]): number {
  throw new Error('TODO: dpoLoss — split both arrays in half (chosen, rejected); for ipo divide each by counts first; m = (πc − πr) − (ρc − ρr); average −log σ(β·m) = log(1 + exp(−β·m)), or (m − 1/(2β))² for ipo');
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
  throw new Error('TODO: rewardMetrics — reward of row b is beta * (policy[b] − reference[b]); pair i is rows i (chosen) and n + i (rejected); average the rewards, the share chosen > rejected, and the differences');
}
