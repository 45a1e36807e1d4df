// Exercises 03: rotary position embedding on plain arrays. Run `npm run check -- 03`.

/** The rotation frequency of each channel pair: θ^(−2i/d) for i = 0 … d/2 − 1. */
export function ropeFrequencies(headDim: number, theta = 10000): number[] {
  throw new Error('TODO: ropeFrequencies — for i from 0 to headDim/2 − 1 return 1 / theta ** (2 * i / headDim)');
}

/**
 * Rotate one head vector x (length d) for position p in the "rotate half" layout: channel i pairs with
 * channel i + d/2 and the pair turns by angle p · freq_i:
 *   out[i] = x[i]·cos − x[i + d/2]·sin,   out[i + d/2] = x[i + d/2]·cos + x[i]·sin.
 */
export function rotate(x: number[], position: number, theta = 10000): number[] {
  throw new Error('TODO: rotate — use ropeFrequencies(x.length, theta); angle = position * freq[i]; apply the two formulas');
}

/** The dot product of two vectors (for checking that rotated q·k depends only on the distance). */
export function dot(a: number[], b: number[]): number {
  throw new Error('TODO: dot — sum of a[i] * b[i]');
}
