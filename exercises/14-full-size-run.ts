// Exercises 14: reading and planning a full-size run on plain numbers — a noisy loss curve smoothed by a
// bias-corrected exponential moving average (TensorBoard's smoothing), and the hours a run of a given
// size takes. Run `npm run check -- 14`.

/** How fast training goes: measured tokens per second, or FLOPs per token at a share (MFU) of a peak. */
export type Throughput =
  | { tokensPerSecond: number }
  | { flopsPerToken: number; mfu: number; peakFlops: number; gpus?: number };

/**
 * Bias-corrected exponential moving average: s_t = β·s_{t−1} + (1 − β)·x_t from s_0 = 0, reported as
 * s_t / (1 − β^t) for t = 1, 2, … (without the division the first values are pulled towards 0). β = 0
 * returns the values; [] gives [].
 */
export function exponentialMovingAverage(values: number[], beta: number): number[] {
  throw new Error('TODO: exponentialMovingAverage — s = β·s + (1 − β)·x from s = 0; output s / (1 − β^t) at the t-th value (t from 1)');
}

/**
 * Hours of training on `tokens` tokens: at a measured `tokensPerSecond`, or at `flopsPerToken` FLOPs a
 * token on `gpus` (default 1) devices each doing `mfu` × `peakFlops` FLOP/s of useful work.
 */
export function trainingHours(tokens: number, throughput: Throughput): number {
  throw new Error("TODO: trainingHours — tokens per second is throughput.tokensPerSecond, or mfu · peakFlops · gpus / flopsPerToken; hours = tokens / that / 3600 ('tokensPerSecond' in throughput tells which)");
}
