// y = x·Wᵀ straight from the blocks, for the few rows of a decoding step on the CPU: each block's
// scale is read once and its levels multiplied in place, so the float32 weight is never written (the
// cpu and wasm backends' QUANTIZED.matVec; the cuda backend has its own kernel). Blocks run along the
// flattened weight, so a row may start and end inside a block.
import { halfToFloat } from '../io/float16.js';
import type { QuantFormat } from './types.js';

/** y [N, rows] = x [N, cols] · Wᵀ for W [rows, cols] stored as `format` blocks in `bytes`. */
export function quantizedMatVec(x: ArrayLike<number>, N: number, bytes: Uint8Array, format: QuantFormat, rows: number, cols: number): Float32Array {
  const y = new Float32Array(N * rows);
  const q4 = format.name === 'q4_0';
  for (let r = 0; r < rows; r++) {
    const rowStart = r * cols;
    for (let i = rowStart; i < rowStart + cols;) {
      const block = i >> 5; // 32 weights per block
      const at = block * format.blockBytes;
      const d = halfToFloat(bytes[at]! | (bytes[at + 1]! << 8));
      const end = Math.min(rowStart + cols, (block + 1) * 32);
      for (let n = 0; n < N; n++) {
        const xRow = n * cols - rowStart; // x[xRow + i] is the input for weight i of this row
        let sum = 0;
        for (let k = i; k < end; k++) {
          const j = k & 31;
          const level = q4 ? (j < 16 ? bytes[at + 2 + j]! & 15 : bytes[at + 2 + j - 16]! >> 4) - 8 : (bytes[at + 2 + j]! << 24) >> 24;
          sum += x[xRow + k]! * level;
        }
        y[n * rows + r]! += d * sum;
      }
      i = end;
    }
  }
  return y;
}
