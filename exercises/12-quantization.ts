// Exercises 12: quantization on plain numbers — a Q8_0 block and back, 4-bit levels packed two to a
// byte as Q4_0 stores them, and how far a reconstruction is from the original. Run `npm run check -- 12`.

/** One Q8_0 block: the scale d and the 32 levels q (integers in [-127, 127]); the values are d·q. */
export interface Q8Block {
  d: number;
  q: number[];
}

/** How far a reconstruction x̂ is from x. */
export interface QuantError {
  /** max |x − x̂|. */
  maxAbs: number;
  /** √(mean (x − x̂)²). */
  rms: number;
  /** Signal to noise in decibels: 10·log₁₀(Σx² / Σ(x − x̂)²); Infinity when x̂ = x. */
  snrDb: number;
}

/**
 * Quantize 32 values as Q8_0: d = max|x| / 127 and q = round(x / d), rounding halves away from zero
 * (C's roundf, not Math.round, which rounds −2.5 to −2); all q = 0 when every x is 0. To agree with
 * llama.cpp to the bit, compute in float32 as its C code does: d = Math.fround(amax / 127), then
 * multiply by the inverse id = Math.fround(1 / d) and round Math.fround(x · id).
 */
export function q8Quantize(x: number[]): Q8Block {
  throw new Error('TODO: q8Quantize — amax = max |x|; d = fround(amax / 127); id = d ? fround(1 / d) : 0; q = sign(v)·floor(|v| + 0.5) of v = fround(x · id)');
}

/** The values a Q8_0 block stands for: d·q. */
export function q8Dequantize(block: Q8Block): number[] {
  throw new Error('TODO: q8Dequantize — d · q for each level');
}

/** Pack 32 levels in [0, 15] into 16 bytes as Q4_0 does: byte j holds level j in its low nibble and level j + 16 in its high one. */
export function packNibbles(levels: number[]): Uint8Array {
  throw new Error('TODO: packNibbles — byte j = levels[j] | (levels[j + 16] << 4), for j < 16');
}

/** The 32 levels of 16 packed bytes (packNibbles undone). */
export function unpackNibbles(bytes: Uint8Array): number[] {
  throw new Error('TODO: unpackNibbles — levels j < 16 from the low nibbles (b & 15), levels 16..31 from the high ones (b >> 4)');
}

/** Max and RMS error and the signal-to-noise ratio of a reconstruction x̂ of x (same length, at least one value). */
export function quantError(x: number[], xHat: number[]): QuantError {
  throw new Error('TODO: quantError — maxAbs = max |x − x̂|, rms = √(Σ(x − x̂)² / n), snrDb = 10·log10(Σx² / Σ(x − x̂)²)');
}
