// y = x·Wᵀ straight from the blocks, for the few rows of a decoding step on the CPU: each block's
// scale is read once and its levels multiplied in place, so the float32 weight is never written (the
// cpu and wasm backends' QUANTIZED.matVec; the cuda backend has its own kernel). Blocks run along the
// flattened weight, so a row may start and end inside a block.
import { halfTable } from '../io/float16.js';
import type { QuantFormat } from './types.js';

/** y [N, rows] = x [N, cols] · Wᵀ for W [rows, cols] stored as `format` blocks in `bytes`. */
export function quantizedMatVec(x: ArrayLike<number>, N: number, bytes: Uint8Array, format: QuantFormat, rows: number, cols: number): Float32Array {
  const y = new Float32Array(N * rows);
  const q8 = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length); // Q8_0's levels are int8
  const isQ4 = format.name === 'q4_0';
  const half = halfTable(); // float16 → float by lookup: a scale every 32 weights is too often for arithmetic
  for (let r = 0; r < rows; r++) {
    const rowStart = r * cols;
    for (let i = rowStart; i < rowStart + cols;) {
      const block = i >> 5; // 32 weights per block
      const at = block * format.blockBytes;
      const d = half[bytes[at]! | (bytes[at + 1]! << 8)]!;
      const first = i - block * 32; // the part of this block inside the row: levels [first, last)
      const last = Math.min(rowStart + cols, (block + 1) * 32) - block * 32;
      for (let n = 0; n < N; n++) {
        const xAt = n * cols + block * 32 - rowStart; // x[xAt + j] meets level j of this block
        let sum = 0;
        if (isQ4) {
          // Levels 0-15 in the low nibbles of bytes 0-15, levels 16-31 in the high ones; stored as q + 8.
          for (let j = first; j < Math.min(last, 16); j++) sum += x[xAt + j]! * ((bytes[at + 2 + j]! & 15) - 8);
          for (let j = Math.max(first, 16); j < last; j++) sum += x[xAt + j]! * ((bytes[at + 2 + j - 16]! >> 4) - 8);
        } else {
          for (let j = first; j < last; j++) sum += x[xAt + j]! * q8[at + 2 + j]!;
        }
        y[n * rows + r]! += d * sum;
      }
      i = block * 32 + last;
    }
  }
  return y;
}
