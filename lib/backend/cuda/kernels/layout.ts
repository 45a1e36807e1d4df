// Layout kernels: ops that move, select or fill elements without arithmetic. Reshape and Identity
// share their input's data (one more reference, no copy); the rest are one strided-copy kernel.
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../backend.js';
import { MAX_RANK } from './elementwise.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Copy one element per coordinate of `dims`, reading and writing through separate strides and offsets. */
export const COPY_SOURCE = `struct Strided { int rank; int dims[${MAX_RANK}]; int outStrides[${MAX_RANK}]; int inStrides[${MAX_RANK}]; int outOffset; int inOffset; };
extern "C" __global__ void copy_strided(int* out, const int* in, Strided s, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int io = s.outOffset, ii = s.inOffset, rest = i;
    for (int d = s.rank - 1; d >= 0; --d) {
      int c = rest % s.dims[d];
      rest /= s.dims[d];
      io += c * s.outStrides[d];
      ii += c * s.inStrides[d];
    }
    out[io] = in[ii];
  }
}
`;

/** Set every element to the same 32 bits (a float's bit pattern, an int, or bool 0/1). */
export const FILL_SOURCE = `extern "C" __global__ void fill(int* out, int bits, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = bits;
}
`;

/** Row-major strides of a shape, in elements. */
export function contiguousStrides(shape: number[]): number[] {
  const strides = new Array<number>(shape.length);
  for (let d = shape.length - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  return strides;
}

/** For every coordinate c of `dims`: out[outOffset + c·outStrides] = x[inOffset + c·inStrides]. */
function copyRegion(cuda: CudaBackend, out: tf.TensorInfo, x: tf.TensorInfo, dims: number[], outStrides: number[], inStrides: number[], outOffset = 0, inOffset = 0): void {
  if (dims.length > MAX_RANK) throw new Error(`cuda backend: rank ${dims.length} > ${MAX_RANK} is not supported for copies`);
  const n = tf.util.sizeFromShape(dims);
  const s = new Int32Array(1 + 3 * MAX_RANK + 2);
  s[0] = Math.max(dims.length, 1);
  for (let d = 0; d < MAX_RANK; d++) {
    s[1 + d] = dims[d] ?? 1;
    s[1 + MAX_RANK + d] = outStrides[d] ?? 0;
    s[1 + 2 * MAX_RANK + d] = inStrides[d] ?? 0;
  }
  s[1 + 3 * MAX_RANK] = outOffset;
  s[2 + 3 * MAX_RANK] = inOffset;
  cuda.launchElementwise(COPY_SOURCE, 'copy_strided', n, [cuda.pointer(out), cuda.pointer(x), { struct: s }, { i32: n }]);
}

/** A new tensor of `shape` with every element `value`. */
export function filled(cuda: CudaBackend, shape: number[], dtype: tf.DataType, value: number): tf.TensorInfo {
  const out = cuda.allocate(shape, dtype);
  const bits = dtype === 'float32' ? new Int32Array(Float32Array.of(value).buffer)[0]! : dtype === 'bool' ? Number(value !== 0) : value | 0;
  const n = tf.util.sizeFromShape(shape);
  cuda.launchElementwise(FILL_SOURCE, 'fill', n, [cuda.pointer(out), { i32: bits }, { i32: n }]);
  return out;
}

const without = (list: number[], index: number) => list.filter((_, i) => i !== index);

/** The same data under another shape: no copy, one more reference (tfjs disposes each tensor once). */
export function sameData(x: tf.TensorInfo, shape: number[], backend: unknown): tf.TensorInfo {
  (backend as CudaBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape, dtype: x.dtype };
}

const reshape: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const size = tf.util.sizeFromShape(x.shape);
  const shape = tf.util.inferFromImplicitShape(attrs!.shape as number[], size);
  return sameData(x, shape, backend);
};

/** A new axis of size 1 at `dim` (negative: counted from the end): a reshape. */
const expandDims: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { input } = inputs as { input: tf.TensorInfo };
  const dim = attrs!.dim as number;
  const at = dim < 0 ? input.shape.length + dim + 1 : dim;
  return sameData(input, [...input.shape.slice(0, at), 1, ...input.shape.slice(at)], backend);
};

const identity: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  return sameData(x, x.shape, backend);
};

/** x with its axes permuted (a new tensor). */
export function transposed(cuda: CudaBackend, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  const shape = perm.map((p) => x.shape[p]!);
  const strides = contiguousStrides(x.shape);
  const out = cuda.allocate(shape, x.dtype);
  copyRegion(cuda, out, x, shape, contiguousStrides(shape), perm.map((p) => strides[p]!));
  return out;
}

/** (tfjs's gather gradient transposes by the identity permutation: that is the same data.) */
const transpose: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const perm = attrs!.perm as number[];
  return perm.every((p, i) => p === i) ? sameData(x, x.shape, backend) : transposed(backend as CudaBackend, x, perm);
};

const slice: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs!.begin as number[], attrs!.size as number[]);
  const cuda = backend as CudaBackend;
  const strides = contiguousStrides(x.shape);
  const out = cuda.allocate(size, x.dtype);
  copyRegion(cuda, out, x, size, contiguousStrides(size), strides, 0, begin.reduce((o, b, d) => o + b * strides[d]!, 0));
  return out;
};

const splitV: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const axis = tf.util.parseAxisParam(attrs!.axis as number, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs!.numOrSizeSplits as number[] | number, axis);
  const cuda = backend as CudaBackend;
  const strides = contiguousStrides(x.shape);
  let start = 0;
  return sizes.map((size) => {
    const shape = x.shape.map((d, i) => (i === axis ? size : d));
    const out = cuda.allocate(shape, x.dtype);
    copyRegion(cuda, out, x, shape, contiguousStrides(shape), strides, 0, start * strides[axis]!);
    start += size;
    return out;
  });
};

/** A new tensor of outShape holding the parts one after another along `axis` (concat), or stacked on a new axis (pack). */
function assemble(cuda: CudaBackend, parts: tf.TensorInfo[], outShape: number[], axis: number, stacked: boolean): tf.TensorInfo {
  const out = cuda.allocate(outShape, parts[0]!.dtype);
  const outStrides = contiguousStrides(outShape);
  let offset = 0;
  for (const part of parts) {
    const dims = part.shape;
    // Stacked parts lack the new axis: skip its stride. Concatenated parts have it.
    copyRegion(cuda, out, part, dims, stacked ? without(outStrides, axis) : outStrides, contiguousStrides(dims), offset * outStrides[axis]!);
    offset += stacked ? 1 : dims[axis]!;
  }
  return out;
}

const concat: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const parts = Object.values(inputs) as tf.TensorInfo[];
  const axis = tf.util.parseAxisParam(attrs!.axis as number, parts[0]!.shape)[0]!;
  const outShape = tf.backend_util.computeOutShape(parts.map((t) => t.shape), axis);
  return assemble(backend as CudaBackend, parts, outShape, axis, false);
};

const pack: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const parts = Object.values(inputs) as tf.TensorInfo[];
  const axis = attrs!.axis as number;
  const outShape = [...parts[0]!.shape.slice(0, axis), parts.length, ...parts[0]!.shape.slice(axis)];
  return assemble(backend as CudaBackend, parts, outShape, axis, true);
};

const unpack: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { value: x } = inputs as { value: tf.TensorInfo };
  const axis = tf.util.parseAxisParam(attrs!.axis as number, x.shape)[0]!;
  const cuda = backend as CudaBackend;
  const strides = contiguousStrides(x.shape);
  const shape = without(x.shape, axis);
  return Array.from({ length: x.shape[axis]! }, (_, i) => {
    const out = cuda.allocate(shape, x.dtype);
    copyRegion(cuda, out, x, shape, contiguousStrides(shape), without(strides, axis), 0, i * strides[axis]!);
    return out;
  });
};

const padV2: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const paddings = attrs!.paddings as [number, number][];
  const cuda = backend as CudaBackend;
  const shape = x.shape.map((d, i) => paddings[i]![0] + d + paddings[i]![1]);
  const out = filled(cuda, shape, x.dtype, attrs!.constantValue as number);
  const outStrides = contiguousStrides(shape);
  copyRegion(cuda, out, x, x.shape, outStrides, contiguousStrides(x.shape), paddings.reduce((o, [before], d) => o + before * outStrides[d]!, 0));
  return out;
};

const fill: tf.KernelFunc = ({ backend, attrs }: KernelArgs) =>
  filled(backend as CudaBackend, attrs!.shape as number[], (attrs!.dtype as tf.DataType) ?? 'float32', attrs!.value as number);

const likeKernel = (value: number): tf.KernelFunc => ({ inputs, backend }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  return filled(backend as CudaBackend, x.shape, x.dtype, value);
};

/** This family's tfjs kernels by name. */
export const LAYOUT_KERNELS: [string, tf.KernelFunc][] = [
  ['Reshape', reshape], ['ExpandDims', expandDims], ['Identity', identity], ['Transpose', transpose], ['Slice', slice], ['SplitV', splitV],
  ['Concat', concat], ['Pack', pack], ['Unpack', unpack], ['PadV2', padV2], ['Fill', fill],
  ['ZerosLike', likeKernel(0)], ['OnesLike', likeKernel(1)],
];
