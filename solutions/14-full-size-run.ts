// Solutions 14: reading and planning a full-size run on plain numbers — a noisy loss curve smoothed by a
// bias-corrected exponential moving average, and the hours a run of a given size takes.

/** How fast training goes: measured tokens per second, or FLOPs per token at a share (MFU) of a peak. */
export type Throughput =
  | { tokensPerSecond: number }
  | { flopsPerToken: number; mfu: number; peakFlops: number; gpus?: number };

/** Bias-corrected exponential moving average: s_t = β·s_{t−1} + (1 − β)·x_t from s_0 = 0, reported as s_t / (1 − β^t). */
export function exponentialMovingAverage(values: number[], beta: number): number[] {
  let s = 0;
  let betaPower = 1;
  return values.map((x) => {
    s = beta * s + (1 - beta) * x;
    betaPower *= beta;
    return s / (1 - betaPower);
  });
}

/** Hours of training on `tokens` tokens at a measured rate, or at FLOPs per token over mfu × peak FLOP/s × gpus. */
export function trainingHours(tokens: number, throughput: Throughput): number {
  const tokensPerSecond = 'tokensPerSecond' in throughput
    ? throughput.tokensPerSecond
    : (throughput.mfu * throughput.peakFlops * (throughput.gpus ?? 1)) / throughput.flopsPerToken;
  return tokens / tokensPerSecond / 3600;
}
