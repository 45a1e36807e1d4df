// The block quantization formats we write, by name, and whole-tensor quantize/dequantize on top of
// their one-block functions. A tensor is quantized row by row in blocks of 32 along its last axis (the
// input features of a [out, in] weight), in GGUF's layout: block after block, row after row.
import { dequantizeQ4_0Block, Q4_0, quantizeQ4_0Block } from './q4_0.js';
import { dequantizeQ8_0Block, Q8_0, quantizeQ8_0Block } from './q8_0.js';

/** A block format: its GGML type number, weights per block and bytes per block, and its two functions. */
export interface QuantFormat {
  name: string;
  ggmlType: number;
  blockSize: number;
  blockBytes: number;
  quantizeBlock(x: Float32Array, from: number, out: Uint8Array, at: number): void;
  dequantizeBlock(bytes: Uint8Array, at: number, out: Float32Array, to: number): void;
}

export const QUANT_FORMATS = {
  q8_0: { ...Q8_0, quantizeBlock: quantizeQ8_0Block, dequantizeBlock: dequantizeQ8_0Block },
  q4_0: { ...Q4_0, quantizeBlock: quantizeQ4_0Block, dequantizeBlock: dequantizeQ4_0Block },
} satisfies Record<string, QuantFormat>;
export type QuantType = keyof typeof QUANT_FORMATS;

/** The format of a type name, or an error that lists the known ones. */
export function quantFormat(type: string): QuantFormat {
  const format = (QUANT_FORMATS as Record<string, QuantFormat>)[type];
  if (!format) throw new Error(`--type: '${type}', expected one of ${Object.keys(QUANT_FORMATS).join(', ')}`);
  return format;
}

/** Quantize values (a whole number of blocks: for a weight, rows whose width is a multiple of 32). */
export function quantize(values: Float32Array, format: QuantFormat): Uint8Array {
  if (values.length % format.blockSize !== 0) throw new Error(`${format.name}: ${values.length} values are not a whole number of ${format.blockSize}-value blocks`);
  const blocks = values.length / format.blockSize;
  const out = new Uint8Array(blocks * format.blockBytes);
  for (let b = 0; b < blocks; b++) format.quantizeBlock(values, b * format.blockSize, out, b * format.blockBytes);
  return out;
}

/** The values quantized bytes stand for. */
export function dequantize(bytes: Uint8Array, format: QuantFormat): Float32Array {
  if (bytes.length % format.blockBytes !== 0) throw new Error(`${format.name}: ${bytes.length} bytes are not a whole number of ${format.blockBytes}-byte blocks`);
  const blocks = bytes.length / format.blockBytes;
  const out = new Float32Array(blocks * format.blockSize);
  for (let b = 0; b < blocks; b++) format.dequantizeBlock(bytes, b * format.blockBytes, out, b * format.blockSize);
  return out;
}
