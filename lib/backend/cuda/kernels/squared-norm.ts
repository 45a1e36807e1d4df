// The squared length of many tensors together, Σ x², for clipping by the global gradient norm: one
// reading pass per tensor, each block's partial sum added to one total with an atomic. (tfjs's way —
// a Square, then a Sum, per tensor, then an AddN — makes a squared copy of every gradient.)
import * as tf from '@tensorflow/tfjs';
import { FUSED } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { BLOCK_REDUCE } from './block-reduce.js';
import { filled } from './layout.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

export const SQUARED_NORM_SOURCE = `${BLOCK_REDUCE}
extern "C" __global__ void add_sum_of_squares(float* total, const float* x, long long n) {
  float s = 0.0f;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) s += x[i] * x[i];
  s = block_sum(s);
  if (threadIdx.x == 0) atomicAdd(total, s);
}
`;

/** inputs: any number of float32 tensors (by any names): a scalar, the sum of all their squared values. */
const squaredNorm: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const cuda = backend as CudaBackend;
  const total = filled(cuda, [], 'float32', 0);
  for (const x of Object.values(inputs) as tf.TensorInfo[]) {
    const n = tf.util.sizeFromShape(x.shape);
    if (n > 0) cuda.launch(SQUARED_NORM_SOURCE, 'add_sum_of_squares', Math.min(Math.ceil(n / 256), 2 * cuda.multiprocessors), 256, [cuda.pointer(total), cuda.pointer(x), BigInt(n)]);
  }
  return total;
};

/** This family's tfjs kernels by name. */
export const SQUARED_NORM_KERNELS: [string, tf.KernelFunc][] = [[FUSED.squaredNorm, squaredNorm]];
