// Solutions 03: rotary position embedding on plain arrays.

/** The rotation frequency of each channel pair: θ^(−2i/d) for i = 0 … d/2 − 1. */
export function ropeFrequencies(headDim: number, theta = 10000): number[] {
  return Array.from({ length: headDim / 2 }, (_, i) => 1 / theta ** ((2 * i) / headDim));
}

/** Rotate one head vector for position p in the "rotate half" layout. */
export function rotate(x: number[], position: number, theta = 10000): number[] {
  const half = x.length / 2;
  const freqs = ropeFrequencies(x.length, theta);
  const out = new Array<number>(x.length);
  for (let i = 0; i < half; i++) {
    const angle = position * freqs[i]!;
    const [c, s] = [Math.cos(angle), Math.sin(angle)];
    out[i] = x[i]! * c - x[i + half]! * s;
    out[i + half] = x[i + half]! * c + x[i]! * s;
  }
  return out;
}

/** The dot product of two vectors. */
export function dot(a: number[], b: number[]): number {
  return a.reduce((sum, v, i) => sum + v * b[i]!, 0);
}
