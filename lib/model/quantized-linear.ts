// The quantized kind of `Linear`: a weight [out, in] kept as GGUF blocks (lib/quant) — 32 weights
// sharing one float16 scale — instead of float32, 3.8× (q8_0) to 7.1× (q4_0) smaller. The blocks run
// along the flattened weight, so rows need not be whole blocks (GGUF needs them to be: the 16m
// preset's 120-wide rows are 3.75 blocks; where rows are whole blocks the layouts agree). The packed bytes
// live on the backend as an int32 tensor (4 bytes per element; tfjs has no byte type), so that a GPU
// reads them where they are.
//
// Two ways to multiply, by the number of rows:
// - a decoding step (one token per sequence) is memory-bound: a kernel reads each block once and
//   multiplies it in place (QUANTIZED.matVec), moving 4-7× fewer bytes than a float32 product;
// - a prompt or a batch is compute-bound: unpack the weight to float32 (QUANTIZED.dequantize) and run
//   the backend's ordinary product (cuBLAS, BLAS).
// A backend without the kernels gets the weight unpacked by lib/quant in JavaScript.
import * as tf from '@tensorflow/tfjs';
import { dequantize, quantFormat, quantize, type QuantFormat, type QuantType } from '../quant/types.js';
import { hasFused, QUANTIZED, QUANTIZED_MATVEC_MAX_ROWS, runFused } from './fused.js';
import type { Linear } from './linear.js';

/** A projection whose weight [out, in] is stored as quantized blocks, row after row. */
export class QuantizedLinear implements Linear {
  readonly format: QuantFormat;
  /** What the kernels need to know: the GGML type number and the weight's shape. */
  private readonly attrs: { type: number; rows: number; cols: number };

  constructor(
    readonly type: QuantType,
    readonly outFeatures: number,
    readonly inFeatures: number,
    /** The packed blocks, row after row, padded to whole int32s: [⌈bytes / 4⌉]. */
    readonly blocks: tf.Tensor1D,
  ) {
    this.format = quantFormat(type);
    if ((outFeatures * inFeatures) % this.format.blockSize !== 0) throw new Error(`${type}: a [${outFeatures}, ${inFeatures}] weight is not a whole number of ${this.format.blockSize}-weight blocks`);
    if (blocks.dtype !== 'int32' || blocks.size !== Math.ceil(QuantizedLinear.byteLength(this.format, outFeatures, inFeatures) / 4)) {
      throw new Error(`${type}: blocks tensor of ${blocks.size} ${blocks.dtype} for a [${outFeatures}, ${inFeatures}] weight`);
    }
    this.attrs = { type: this.format.ggmlType, rows: outFeatures, cols: inFeatures };
  }

  /** Bytes of the packed blocks of a [rows, cols] weight. */
  static byteLength(format: QuantFormat, rows: number, cols: number): number {
    return (rows * cols / format.blockSize) * format.blockBytes;
  }

  /** Wrap packed bytes (as they are stored in a file) in a tensor on the active backend. */
  static fromBytes(type: QuantType, rows: number, cols: number, bytes: Uint8Array): QuantizedLinear {
    const words = new Int32Array(Math.ceil(bytes.length / 4));
    new Uint8Array(words.buffer).set(bytes);
    return new QuantizedLinear(type, rows, cols, tf.tensor1d(words, 'int32'));
  }

  /** Quantize a float weight [out, in]. */
  static fromWeight(type: QuantType, weight: tf.Tensor): QuantizedLinear {
    const [rows, cols] = weight.shape as [number, number];
    return QuantizedLinear.fromBytes(type, rows, cols, quantize(weight.dataSync() as Float32Array, quantFormat(type)));
  }

  /** The packed bytes, as a file stores them. */
  bytes(): Uint8Array {
    const words = this.blocks.dataSync() as Int32Array;
    return new Uint8Array(words.buffer, words.byteOffset, QuantizedLinear.byteLength(this.format, this.outFeatures, this.inFeatures));
  }

  /** The float32 weight [out, in] the blocks stand for. Call inside tf.tidy or dispose it. */
  dequantized(): tf.Tensor2D {
    if (hasFused(QUANTIZED.dequantize)) return runFused(QUANTIZED.dequantize, { blocks: this.blocks }, this.attrs);
    return tf.tensor2d(dequantize(this.bytes(), this.format), [this.outFeatures, this.inFeatures]);
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const flat = tf.reshape(x, [-1, this.inFeatures]); // [N, in]
      const y = flat.shape[0]! <= QUANTIZED_MATVEC_MAX_ROWS && hasFused(QUANTIZED.matVec)
        ? runFused(QUANTIZED.matVec, { x: flat, blocks: this.blocks }, this.attrs)
        : tf.matMul(flat, this.dequantized(), false, true); // [N, out]
      return tf.reshape(y, [...x.shape.slice(0, -1), this.outFeatures]);
    });
  }

  dispose(): void {
    this.blocks.dispose();
  }
}
