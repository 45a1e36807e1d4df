// The squared length of many tensors together, Σ x², for clipping by the global gradient norm: one
// launch reads up to 128 of them, each block's partial sum added to one total with an atomic. (tfjs's way —
// a Square, then a Sum, per tensor, then an AddN — makes a squared copy of every gradient.) A pass over
// memory like AdamW's: 16-byte loads (each_4) and 8 blocks an SM keep enough bytes in flight to reach
// the memory's bandwidth, where one value a thread at 4 blocks an SM read 1.3 TB/s: 4.57 → 1.89 ms a
// step at 1.5b on an H100 (440m 1.37 → 0.59, 92m 0.30 → 0.14).
import * as tf from '@tensorflow/tfjs';
import { FUSED } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { BF16_BITS } from './bf16.js';
import { BLOCK_REDUCE } from './block-reduce.js';
import { filled } from './layout.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Tensors one launch sums (their pointers and sizes travel in the kernel's parameters, ≤ 4 KB). */
const PER_LAUNCH = 128;

export const SQUARED_NORM_SOURCE = `${BLOCK_REDUCE}${BF16_BITS}
struct Tensors { long long n[${PER_LAUNCH}]; const float* x[${PER_LAUNCH}]; int count; };
extern "C" __global__ void add_sum_of_squares(float* total, Tensors t) {
  float s = 0.0f;
  for (int j = 0; j < t.count; j++)
    each_4(t.n[j], [&](long long i, int count) {
      float v[4];
      load_n(t.x[j], nullptr, i, count, v);
      for (int e = 0; e < count; e++) s += v[e] * v[e];
    });
  s = block_sum(s);
  if (threadIdx.x == 0) atomicAdd(total, s);
}
`;

/**
 * inputs: any number of float32 tensors (by any names): a scalar, the sum of all their squared values.
 * Up to 128 tensors a launch, every block striding over each of them: a model's ~80 gradients, most of
 * them small, take one launch instead of one each.
 */
const squaredNorm: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const cuda = backend as CudaBackend;
  const total = filled(cuda, [], 'float32', 0);
  const tensors = (Object.values(inputs) as tf.TensorInfo[]).map((x) => ({ x, n: tf.util.sizeFromShape(x.shape) })).filter(({ n }) => n > 0);
  for (let first = 0; first < tensors.length; first += PER_LAUNCH) {
    const some = tensors.slice(first, first + PER_LAUNCH);
    const table = new BigInt64Array(2 * PER_LAUNCH + 1); // n[], x[], count (the struct's layout)
    some.forEach(({ x, n }, j) => {
      table[j] = BigInt(n);
      table[PER_LAUNCH + j] = cuda.pointer(x);
    });
    table[2 * PER_LAUNCH] = BigInt(some.length);
    const quads = Math.max(...some.map((t) => Math.ceil(t.n / 4)));
    // Enough blocks for the largest tensor (the embedding: 33M values) to fill the GPU; small ones take a lap each.
    cuda.launch(SQUARED_NORM_SOURCE, 'add_sum_of_squares', Math.min(Math.ceil(quads / 256), 8 * cuda.multiprocessors), 256, [cuda.pointer(total), { struct: new Int32Array(table.buffer) }]);
  }
  return total;
};

/** This family's tfjs kernels by name. */
export const SQUARED_NORM_KERNELS: [string, tf.KernelFunc][] = [[FUSED.squaredNorm, squaredNorm]];
