// Solutions 12: quantization on plain numbers — a Q8_0 block and back, 4-bit levels packed two to a
// byte as Q4_0 stores them, and how far a reconstruction is from the original.

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

/** Quantize 32 values as Q8_0 (float32 arithmetic, halves rounded away from zero, as llama.cpp does). */
export function q8Quantize(x: number[]): Q8Block {
  const amax = Math.max(...x.map(Math.abs));
  const d = Math.fround(amax / 127);
  const id = d === 0 ? 0 : Math.fround(1 / d);
  const q = x.map((v) => {
    const scaled = Math.fround(v * id);
    return Math.sign(scaled) * Math.floor(Math.abs(scaled) + 0.5);
  });
  return { d, q };
}

/** The values a Q8_0 block stands for: d·q. */
export function q8Dequantize(block: Q8Block): number[] {
  return block.q.map((q) => block.d * q);
}

/** Pack 32 levels in [0, 15] into 16 bytes as Q4_0 does. */
export function packNibbles(levels: number[]): Uint8Array {
  const bytes = new Uint8Array(16);
  for (let j = 0; j < 16; j++) bytes[j] = levels[j]! | (levels[j + 16]! << 4);
  return bytes;
}

/** The 32 levels of 16 packed bytes. */
export function unpackNibbles(bytes: Uint8Array): number[] {
  return [...Array.from(bytes, (b) => b & 15), ...Array.from(bytes, (b) => b >> 4)];
}

/** Max and RMS error and the signal-to-noise ratio of a reconstruction x̂ of x. */
export function quantError(x: number[], xHat: number[]): QuantError {
  let maxAbs = 0, noise = 0, signal = 0;
  x.forEach((v, i) => {
    const e = v - xHat[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(e));
    noise += e * e;
    signal += v * v;
  });
  return { maxAbs, rms: Math.sqrt(noise / x.length), snrDb: noise === 0 ? Infinity : 10 * Math.log10(signal / noise) };
}
