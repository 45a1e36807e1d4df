// The quantized-projection kernels (lib/model/quantized-linear.ts) on the cpu and wasm backends:
// unpacking the blocks into a float32 weight (for products of many rows, which the backend's BLAS then
// multiplies), in JavaScript, and the product that reads the blocks directly (decoding) — in JavaScript
// on cpu, as a SIMD WebAssembly kernel (wasm/simd/kernels.c) in the wasm backend's own heap.
import * as tf from '@tensorflow/tfjs';
import { QUANTIZED } from '../model/fused.js';
import { quantizedMatVec } from '../quant/matvec.js';
import { dequantize, QUANT_FORMATS, type QuantFormat } from '../quant/types.js';
import { MAKE_OUTPUT } from './extra-kernels.js';
import { at, type WasmBackend } from './wasm/heap.js';
import { simd } from './wasm/simd.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];
interface ReadableBackend {
  readSync(dataId: object): ArrayLike<number>;
}
interface Attrs { type: number; rows: number; cols: number }

/** The format and packed bytes of a kernel call's blocks input. */
function blocksOf(args: KernelArgs): { format: QuantFormat; bytes: Uint8Array; attrs: Attrs } {
  const attrs = args.attrs as unknown as Attrs;
  const format = Object.values(QUANT_FORMATS).find((f) => f.ggmlType === attrs.type);
  if (!format) throw new Error(`quantized kernels: no format for GGML type ${attrs.type}`);
  const words = (args.backend as ReadableBackend).readSync((args.inputs.blocks as tf.TensorInfo).dataId) as Int32Array;
  const length = (attrs.rows * attrs.cols / format.blockSize) * format.blockBytes;
  return { format, bytes: new Uint8Array(words.buffer, words.byteOffset, length), attrs };
}

const dequantizeKernel = (backendName: 'cpu' | 'wasm') => (args: KernelArgs): tf.TensorInfo => {
  const { format, bytes, attrs } = blocksOf(args);
  return MAKE_OUTPUT[backendName](args.backend, [attrs.rows, attrs.cols], 'float32', dequantize(bytes, format));
};

const matVecCpu = (args: KernelArgs): tf.TensorInfo => {
  const { format, bytes, attrs } = blocksOf(args);
  const x = args.inputs.x as tf.TensorInfo;
  const N = x.shape[0]!;
  const values = (args.backend as ReadableBackend).readSync(x.dataId);
  return MAKE_OUTPUT.cpu(args.backend, [N, attrs.rows], 'float32', quantizedMatVec(values, N, bytes, format, attrs.rows, attrs.cols));
};

const matVecWasm = (args: KernelArgs): tf.TensorInfo => {
  const attrs = args.attrs as unknown as Attrs;
  const { x, blocks } = args.inputs as { x: tf.TensorInfo; blocks: tf.TensorInfo };
  const backend = args.backend as WasmBackend;
  const [xAt, blocksAt] = [at(backend, x), at(backend, blocks)]; // (looking up may move them into the heap)
  const y = backend.makeOutput([x.shape[0]!, attrs.rows], 'float32');
  simd(backend).quantized_matvec(at(backend, y), xAt, blocksAt, x.shape[0]!, attrs.rows, attrs.cols, attrs.type === QUANT_FORMATS.q4_0.ggmlType ? 1 : 0);
  return y;
};

/** This family's kernels on `backendName` (cpu or wasm), by name; lib/backend/init.ts registers them. */
export const quantizedKernels = (backendName: 'cpu' | 'wasm'): [string, tf.KernelFunc][] => [
  [QUANTIZED.dequantize, dequantizeKernel(backendName)],
  [QUANTIZED.matVec, backendName === 'cpu' ? matVecCpu : matVecWasm],
];
