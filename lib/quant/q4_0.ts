// Q4_0, GGUF's 4-bit block format: every 32 weights share one scale d = m / -8, where m is the weight of
// largest magnitude (with its sign), stored as float16; each weight becomes q = x / d + 8 rounded down to
// [0, 15], so m itself lands exactly on q = 0 and the rest spread over the 16 levels. Two weights per
// byte: byte j holds weight j in its low nibble and weight j + 16 in its high one. 18 bytes per 32
// weights: 4.5 bits per weight.
import { floatToHalf, halfTable } from '../io/float16.js';

export const Q4_0 = { name: 'q4_0', ggmlType: 2, blockSize: 32, blockBytes: 18 } as const;

/** Quantize one block of 32 values into out[at, at + 18). Float32 arithmetic, as ggml's C and gguf.quants do it. */
export function quantizeQ4_0Block(x: Float32Array, from: number, out: Uint8Array, at: number): void {
  let amax = 0, max = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[from + j]!;
    if (Math.abs(v) > amax) { // the first of equal magnitudes, as ggml and numpy's argmax
      amax = Math.abs(v);
      max = v;
    }
  }
  const d = Math.fround(max / -8);
  const id = d === 0 ? 0 : Math.fround(1 / d);
  const half = floatToHalf(d);
  out[at] = half & 0xff;
  out[at + 1] = half >>> 8;
  const level = (v: number) => Math.min(15, Math.max(0, Math.trunc(Math.fround(Math.fround(v * id) + 8.5))));
  for (let j = 0; j < 16; j++) out[at + 2 + j] = level(x[from + j]!) | (level(x[from + 16 + j]!) << 4);
}

/** The 32 values a block stands for: d × (q − 8). */
export function dequantizeQ4_0Block(bytes: Uint8Array, at: number, out: Float32Array, to: number): void {
  const d = halfTable()[bytes[at]! | (bytes[at + 1]! << 8)]!;
  for (let j = 0; j < 16; j++) {
    const b = bytes[at + 2 + j]!;
    out[to + j] = d * ((b & 0x0f) - 8);
    out[to + 16 + j] = d * ((b >>> 4) - 8);
  }
}
