// Kernels that pick elements by index: gather (embedding lookup), its gradient the segment sum
// (scatter-add, with atomics), one-hot, select, range — and softmax over the last axis.
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../backend.js';
import { BF16_BITS, loadFrom } from './bf16.js';
import { cType } from './elementwise.js';
import { filled } from './layout.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The 32 bits that represent `value` in a tensor of `dtype` (kernels copy bits, whatever the type). */
const bitsOf = (value: number, dtype: tf.DataType) => (dtype === 'float32' ? new Int32Array(Float32Array.of(value).buffer)[0]! : dtype === 'bool' ? Number(value !== 0) : value | 0);

/** out[o, j, k] = x[o, indices[j], k] (0 for an index out of range); elements copied as 32-bit words. */
export const GATHER_SOURCE = `extern "C" __global__ void gather(int* out, const int* x, const int* indices, int axisDim, int count, int inner, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int k = i % inner, j = (i / inner) % count, o = i / (inner * count);
    int index = indices[j];
    out[i] = (index >= 0 && index < axisDim) ? x[((long long)o * axisDim + index) * inner + k] : 0;
  }
}
`;

/** out[ids[j], k] += x[j, k] with atomics; out starts at 0. */
export function segmentSumSource(t: 'float' | 'int'): string {
  return `extern "C" __global__ void segment_sum_${t}(${t}* out, const ${t}* x, const int* ids, int segments, int inner, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int segment = ids[i / inner];
    if (segment >= 0 && segment < segments) atomicAdd(&out[(long long)segment * inner + i % inner], x[i]);
  }
}
`;
}

/** out[i] = (i % depth == indices[i / depth]) ? on : off, as 32-bit words. */
export const ONE_HOT_SOURCE = `extern "C" __global__ void one_hot(int* out, const int* indices, int depth, int on, int off, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = (i % depth == indices[i / depth]) ? on : off;
}
`;

/** out[i] = condition[i] ? a[i] : b[i] (same shapes: tfjs broadcasts before the kernel). */
export const SELECT_SOURCE = `extern "C" __global__ void select(int* out, const int* condition, const int* a, const int* b, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = condition[i] ? a[i] : b[i];
}
`;

/** out[i] = start + i * step. */
export function rangeSource(t: 'float' | 'int'): string {
  return `extern "C" __global__ void range_${t}(${t}* out, ${t} start, ${t} step, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = start + i * step;
}
`;
}

/**
 * The k largest of each row of n (MoE routing: n is the expert count), in descending order, ties to the
 * lower index as tfjs does: one thread per row picks, k times, the largest element that comes after
 * the previous pick in that order — no scratch memory.
 */
export const TOP_K_SOURCE = `extern "C" __global__ void top_k(float* values, int* indices, const float* x, int n, int k, int rows) {
  for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x) {
    const float* row = x + (long long)r * n;
    float prevValue = __int_as_float(0x7f800000);
    int prevIndex = -1;
    for (int i = 0; i < k; i++) {
      int best = -1;
      for (int j = 0; j < n; j++) {
        float v = row[j];
        bool after = v < prevValue || (v == prevValue && j > prevIndex);
        if (after && (best < 0 || v > row[best])) best = j;
      }
      values[(long long)r * k + i] = row[best];
      indices[(long long)r * k + i] = best;
      prevValue = row[best];
      prevIndex = best;
    }
  }
}
`;

/**
 * The index of each row's largest of n values (the first, on ties — as a loop keeping the first
 * maximum finds it): one block per row, each thread a strided share, then a tree over the threads.
 */
export const ARG_MAX_SOURCE = `extern "C" __global__ void arg_max(int* out, const float* x, int n) {
  const float* row = x + (long long)blockIdx.x * n;
  __shared__ float values[256];
  __shared__ int indices[256];
  float best = __int_as_float(0xff800000);  // -inf
  int at = n;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    if (row[j] > best || at == n) { best = row[j]; at = j; }
  }
  values[threadIdx.x] = best;
  indices[threadIdx.x] = at;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      float v = values[threadIdx.x + stride];
      int i = indices[threadIdx.x + stride];
      if (i < n && (indices[threadIdx.x] == n || v > values[threadIdx.x] || (v == values[threadIdx.x] && i < indices[threadIdx.x]))) {
        values[threadIdx.x] = v;
        indices[threadIdx.x] = i;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = indices[0];
}
`;

/** Softmax of each row of `width` elements: one block per row, max and sum by tree reductions. x is read with load(): float32, or bfloat16 when kept so (the MoE router's logits, a projection's output). */
export const SOFTMAX_SOURCE = `${BF16_BITS}
extern "C" __global__ void softmax(float* out, const float* x, const unsigned short* x16, int width) {
  long long row = (long long)blockIdx.x * width;
  float* dst = out + row;
  __shared__ float partial[256];
  float m = __int_as_float(0xff800000);
  for (int j = threadIdx.x; j < width; j += blockDim.x) m = fmaxf(m, load(x, x16, row + j));
  partial[threadIdx.x] = m;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] = fmaxf(partial[threadIdx.x], partial[threadIdx.x + s]);
    __syncthreads();
  }
  m = partial[0];
  __syncthreads();
  float sum = 0.0f;
  for (int j = threadIdx.x; j < width; j += blockDim.x) sum += expf(load(x, x16, row + j) - m);
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  float inv = 1.0f / partial[0];
  for (int j = threadIdx.x; j < width; j += blockDim.x) dst[j] = expf(load(x, x16, row + j) - m) * inv;
}
`;

const gatherV2: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x, indices } = inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  if ((attrs!.batchDims as number) !== 0) throw new Error('cuda backend: GatherV2 with batchDims is not supported yet');
  const axis = tf.util.parseAxisParam(attrs!.axis as number, x.shape)[0]!;
  const cuda = backend as CudaBackend;
  const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const out = cuda.allocate(shape, x.dtype);
  const n = tf.util.sizeFromShape(shape);
  cuda.launchElementwise(GATHER_SOURCE, 'gather', n, [
    cuda.pointer(out), cuda.pointer(x), cuda.pointer(indices), { i32: x.shape[axis]! }, { i32: tf.util.sizeFromShape(indices.shape) }, { i32: tf.util.sizeFromShape(x.shape.slice(axis + 1)) }, { i32: n },
  ]);
  return out;
};

const unsortedSegmentSum: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const segments = attrs!.numSegments as number;
  const cuda = backend as CudaBackend;
  const rest = x.shape.slice(segmentIds.shape.length);
  const out = filled(cuda, [segments, ...rest], x.dtype, 0);
  const t = cType(x.dtype);
  const n = tf.util.sizeFromShape(x.shape);
  cuda.launchElementwise(segmentSumSource(t), `segment_sum_${t}`, n, [cuda.pointer(out), cuda.pointer(x), cuda.pointer(segmentIds), { i32: segments }, { i32: tf.util.sizeFromShape(rest) }, { i32: n }]);
  return out;
};

const oneHot: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { indices } = inputs as { indices: tf.TensorInfo };
  const { depth, onValue, offValue, dtype } = attrs as { depth: number; onValue: number; offValue: number; dtype: tf.DataType };
  const cuda = backend as CudaBackend;
  const out = cuda.allocate([...indices.shape, depth], dtype);
  const n = tf.util.sizeFromShape(indices.shape) * depth;
  cuda.launchElementwise(ONE_HOT_SOURCE, 'one_hot', n, [cuda.pointer(out), cuda.pointer(indices), { i32: depth }, { i32: bitsOf(onValue, dtype) }, { i32: bitsOf(offValue, dtype) }, { i32: n }]);
  return out;
};

const select: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { condition, t, e } = inputs as { condition: tf.TensorInfo; t: tf.TensorInfo; e: tf.TensorInfo };
  if (tf.util.sizeFromShape(condition.shape) !== tf.util.sizeFromShape(t.shape)) throw new Error(`cuda backend: Select with condition [${condition.shape}] for values [${t.shape}] is not supported, expected equal shapes`);
  const cuda = backend as CudaBackend;
  const out = cuda.allocate(t.shape, t.dtype);
  const n = tf.util.sizeFromShape(t.shape);
  cuda.launchElementwise(SELECT_SOURCE, 'select', n, [cuda.pointer(out), cuda.pointer(condition), cuda.pointer(t), cuda.pointer(e), { i32: n }]);
  return out;
};

const range: tf.KernelFunc = ({ backend, attrs }: KernelArgs) => {
  const { start, stop, step, dtype } = attrs as { start: number; stop: number; step: number; dtype: 'float32' | 'int32' };
  const cuda = backend as CudaBackend;
  const n = Math.max(Math.ceil((stop - start) / step), 0);
  const out = cuda.allocate([n], dtype);
  const t = cType(dtype);
  cuda.launchElementwise(rangeSource(t), `range_${t}`, n, [cuda.pointer(out), t === 'float' ? { f32: start } : { i32: start }, t === 'float' ? { f32: step } : { i32: step }, { i32: n }]);
  return out;
};

const softmax: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { logits } = inputs as { logits: tf.TensorInfo };
  const dim = attrs!.dim as number;
  if (dim !== -1 && dim !== logits.shape.length - 1) throw new Error(`cuda backend: Softmax over axis ${dim} is not supported, expected the last axis`);
  const cuda = backend as CudaBackend;
  const width = logits.shape[logits.shape.length - 1] ?? 1;
  const out = cuda.allocate(logits.shape, 'float32');
  const rows = tf.util.sizeFromShape(logits.shape) / Math.max(width, 1);
  const x = loadFrom(cuda, logits);
  if (rows > 0 && width > 0) cuda.launch(SOFTMAX_SOURCE, 'softmax', rows, 256, [cuda.pointer(out), x.x, x.x16, { i32: width }]);
  return out;
};

const argMax: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const axis = tf.util.parseAxisParam(attrs!.axis as number | number[], x.shape);
  if (x.dtype !== 'float32' || axis.length !== 1 || axis[0] !== x.shape.length - 1) {
    throw new Error(`cuda backend: ArgMax of ${x.dtype} over axis ${axis} of [${x.shape}] is not supported, expected float32 over the last axis`);
  }
  const cuda = backend as CudaBackend;
  const n = x.shape[x.shape.length - 1]!;
  const out = cuda.allocate(x.shape.slice(0, -1), 'int32');
  const rows = tf.util.sizeFromShape(x.shape) / Math.max(n, 1);
  if (rows > 0 && n > 0) cuda.launch(ARG_MAX_SOURCE, 'arg_max', rows, 256, [cuda.pointer(out), cuda.pointer(x), { i32: n }]);
  return out;
};

const topK: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  if (x.dtype !== 'float32') throw new Error(`cuda backend: TopK of ${x.dtype} is not supported, expected float32`);
  const k = attrs!.k as number;
  const n = x.shape[x.shape.length - 1]!;
  if (k > n) throw new Error(`cuda backend: TopK: k = ${k} exceeds the last axis (${n})`);
  const cuda = backend as CudaBackend;
  const shape = [...x.shape.slice(0, -1), k];
  const [values, indices] = [cuda.allocate(shape, 'float32'), cuda.allocate(shape, 'int32')];
  const rows = tf.util.sizeFromShape(x.shape) / Math.max(n, 1);
  if (rows > 0 && k > 0) cuda.launchElementwise(TOP_K_SOURCE, 'top_k', rows, [cuda.pointer(values), cuda.pointer(indices), cuda.pointer(x), { i32: n }, { i32: k }, { i32: rows }]);
  return [values, indices];
};

/** This family's tfjs kernels by name. */
export const INDEXING_KERNELS: [string, tf.KernelFunc][] = [
  ['GatherV2', gatherV2], ['UnsortedSegmentSum', unsortedSegmentSum], ['OneHot', oneHot], ['Select', select], ['Range', range], ['Softmax', softmax], ['TopK', topK], ['ArgMax', argMax],
];
