// Q8_0, GGUF's 8-bit block format: every 32 weights share one scale d = max|x| / 127 (stored as float16),
// and each weight is stored as round(x / d), an int8 in [-127, 127]. 34 bytes per 32 weights: 8.5 bits
// per weight, a quarter of float32's size, with an error of at most d/2 per weight.
import { floatToHalf, halfTable } from '../io/float16.js';

export const Q8_0 = { name: 'q8_0', ggmlType: 8, blockSize: 32, blockBytes: 34 } as const;

/** Round half away from zero, as C's roundf (which ggml uses), not JavaScript's Math.round. */
export function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
}

/** Quantize one block of 32 values into out[at, at + 34). Float32 arithmetic, as ggml's C does it. */
export function quantizeQ8_0Block(x: Float32Array, from: number, out: Uint8Array, at: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[from + j]!));
  const d = Math.fround(amax / 127);
  const id = d === 0 ? 0 : Math.fround(1 / d);
  const half = floatToHalf(d);
  out[at] = half & 0xff;
  out[at + 1] = half >>> 8;
  for (let j = 0; j < 32; j++) out[at + 2 + j] = roundHalfAway(Math.fround(x[from + j]! * id)) & 0xff; // int8, two's complement
}

/** The 32 values a block stands for: d × q. */
export function dequantizeQ8_0Block(bytes: Uint8Array, at: number, out: Float32Array, to: number): void {
  const d = halfTable()[bytes[at]! | (bytes[at + 1]! << 8)]!;
  for (let j = 0; j < 32; j++) out[to + j] = d * ((bytes[at + 2 + j]! << 24) >> 24); // sign-extend the int8
}
