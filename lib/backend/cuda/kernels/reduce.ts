// Reductions over any axes (sum, mean, max, min, prod): the reduced axes are moved innermost, then one
// block per output element combines its row, each thread a strided share, then a tree in shared memory.
// Over zero elements the result is the identity (0, 1, −∞, +∞; mean 0/0 = NaN), as in TensorFlow.
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../backend.js';
import { cType } from './elementwise.js';
import { transposed } from './layout.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

const THREADS = 256;

/** Per reduction: the start value, how two partial results combine, and whether to divide by the count. */
const REDUCTIONS: Record<string, { init: { float: string; int: string }; combine: string; mean?: true }> = {
  Sum: { init: { float: '0.0f', int: '0' }, combine: 'a + b' },
  Mean: { init: { float: '0.0f', int: '0' }, combine: 'a + b', mean: true },
  // NVRTC has no host headers (no INFINITY, no INT_MIN): spell the bit patterns out.
  Max: { init: { float: '__int_as_float(0xff800000)', int: '(-2147483647 - 1)' }, combine: 'max(a, b)' },
  Min: { init: { float: '__int_as_float(0x7f800000)', int: '2147483647' }, combine: 'min(a, b)' },
  Prod: { init: { float: '1.0f', int: '1' }, combine: 'a * b' },
};

/**
 * The CUDA source of reduction `name` over rows of `inner` elements of type `t`. Each row may be split
 * into `chunks` blocks (block b reduces chunk b % chunks of row b / chunks): a tensor reduced to a few
 * numbers — a gradient's squared norm — would otherwise run on a few SMs out of 132. `scale` divides
 * the mean once, at the last stage.
 */
export function reduceSource(name: string, t: 'float' | 'int'): string {
  const r = REDUCTIONS[name];
  if (!r) throw new Error(`cuda backend: no reduction ${name}`);
  return `typedef ${t} T;
__device__ T combine(T a, T b) { return ${r.combine}; }
extern "C" __global__ void ${name}(T* out, const T* in, long long inner, int chunks, float scale) {
  long long per = (inner + chunks - 1) / chunks;
  long long begin = (blockIdx.x % chunks) * per, end = min(inner, begin + per);
  const T* row = in + (long long)(blockIdx.x / chunks) * inner;
  T acc = ${r.init[t]};
  for (long long j = begin + threadIdx.x; j < end; j += blockDim.x) acc = combine(acc, row[j]);
  __shared__ T partial[${THREADS}];
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] = combine(partial[threadIdx.x], partial[threadIdx.x + s]);
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = ${r.mean ? '(T)(partial[0] * scale)' : 'partial[0]'};
}
`;
}

/** Elements per block worth splitting a row for. */
const CHUNK = 16_384;

function reduction(name: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const cuda = backend as CudaBackend;
    if (name === 'Mean' && x.dtype !== 'float32') throw new Error(`cuda backend: Mean of ${x.dtype} is not supported, expected float32`);
    // tfjs calls the attribute reductionIndices for Max, axis for the others.
    const axes = tf.util.parseAxisParam((attrs!.axis ?? attrs!.reductionIndices) as number | number[], x.shape);
    const perm = tf.backend_util.getAxesPermutation(axes, x.shape.length);
    // Reduced axes innermost: a transposed copy when they are not already.
    const source = perm ? transposed(cuda, x, perm) : x;
    const [outShape, reduceShape] = tf.backend_util.computeOutAndReduceShapes(source.shape, tf.backend_util.getInnerMostAxes(axes.length, x.shape.length));
    const inner = tf.util.sizeFromShape(reduceShape);
    const rows = tf.util.sizeFromShape(outShape);
    const shape = attrs!.keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    const out = cuda.allocate(shape, x.dtype);
    const t = cType(x.dtype);
    const chunks = Math.max(1, Math.min(Math.ceil(inner / CHUNK), Math.floor((4 * cuda.multiprocessors) / Math.max(rows, 1))));
    if (rows > 0 && chunks === 1) {
      cuda.launch(reduceSource(name, t), name, rows, THREADS, [cuda.pointer(out), cuda.pointer(source), BigInt(inner), { i32: 1 }, { f32: 1 / inner }]);
    } else if (rows > 0) {
      // Two stages: partial results per chunk (a mean sums first), then the same reduction over them.
      const partials = cuda.allocate([rows, chunks], x.dtype);
      const first = name === 'Mean' ? 'Sum' : name;
      cuda.launch(reduceSource(first, t), first, rows * chunks, THREADS, [cuda.pointer(partials), cuda.pointer(source), BigInt(inner), { i32: chunks }, { f32: 1 }]);
      cuda.launch(reduceSource(name, t), name, rows, THREADS, [cuda.pointer(out), cuda.pointer(partials), BigInt(chunks), { i32: 1 }, { f32: 1 / inner }]);
      cuda.disposeData(partials.dataId);
    }
    if (source !== x) cuda.disposeData(source.dataId);
    return out;
  };
}

/** This family's tfjs kernels by name. */
export const REDUCE_KERNELS: [string, tf.KernelFunc][] = Object.keys(REDUCTIONS).map((name) => [name, reduction(name)]);

/** The reductions, for tests. */
export const REDUCTION_NAMES = Object.keys(REDUCTIONS);
