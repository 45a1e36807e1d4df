// The fused causal attention softmax (see lib/model/fused.ts): scale, mask and normalise in one pass,
// its backward in one more. Attention over a KV cache uses it; training uses flash-attention.ts, which
// never materialises these T×S probabilities.
import * as tf from '@tensorflow/tfjs';
import { FUSED, gradOf } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { BLOCK_REDUCE, ROW_BLOCK } from './block-reduce.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * probs = softmax(scale · scores) over keys j ≤ q, 0 beyond, for each row of S keys; the row's query
 * position is offset + row % T. Backward: ds = scale · p · (dp − Σ dp·p).
 */
export const CAUSAL_SOFTMAX_SOURCE = `${BLOCK_REDUCE}
extern "C" __global__ void causal_softmax(float* p, const float* s, int T, int S, int offset, float scale) {
  long long base = (long long)blockIdx.x * S;
  int q = offset + blockIdx.x % T;
  float m = __int_as_float(0xff800000);
  for (int j = threadIdx.x; j <= q && j < S; j += blockDim.x) m = fmaxf(m, s[base + j] * scale);
  m = block_max(m);
  float sum = 0.0f;
  for (int j = threadIdx.x; j <= q && j < S; j += blockDim.x) sum += expf(s[base + j] * scale - m);
  float inv = 1.0f / block_sum(sum);
  for (int j = threadIdx.x; j < S; j += blockDim.x) p[base + j] = j <= q ? expf(s[base + j] * scale - m) * inv : 0.0f;
}
extern "C" __global__ void causal_softmax_grad(float* ds, const float* dp, const float* p, int T, int S, int offset, float scale) {
  long long base = (long long)blockIdx.x * S;
  int q = offset + blockIdx.x % T;  // p is 0 beyond q: nothing there to read
  float dot = 0.0f;
  for (int j = threadIdx.x; j <= q && j < S; j += blockDim.x) dot += dp[base + j] * p[base + j];
  dot = block_sum(dot);
  for (int j = threadIdx.x; j < S; j += blockDim.x) ds[base + j] = j <= q ? scale * p[base + j] * (dp[base + j] - dot) : 0.0f;
}
`;

const causalSoftmax: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { scores } = inputs as { scores: tf.TensorInfo };
  const cuda = backend as CudaBackend;
  const [, , T, S] = scores.shape as [number, number, number, number];
  const rows = tf.util.sizeFromShape(scores.shape) / S;
  const p = cuda.allocate(scores.shape, 'float32');
  if (rows > 0) cuda.launch(CAUSAL_SOFTMAX_SOURCE, 'causal_softmax', rows, ROW_BLOCK, [cuda.pointer(p), cuda.pointer(scores), { i32: T }, { i32: S }, { i32: attrs!.offset as number }, { f32: attrs!.scale as number }]);
  return p;
};

const causalSoftmaxGrad: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { dy, probs } = inputs as { dy: tf.TensorInfo; probs: tf.TensorInfo };
  const cuda = backend as CudaBackend;
  const [, , T, S] = probs.shape as [number, number, number, number];
  const rows = tf.util.sizeFromShape(probs.shape) / S;
  const ds = cuda.allocate(probs.shape, 'float32');
  if (rows > 0) {
    cuda.launch(CAUSAL_SOFTMAX_SOURCE, 'causal_softmax_grad', rows, ROW_BLOCK, [
      cuda.pointer(ds), cuda.pointer(dy), cuda.pointer(probs), { i32: T }, { i32: S }, { i32: attrs!.offset as number }, { f32: attrs!.scale as number },
    ]);
  }
  return ds;
};

/** This family's tfjs kernels by name. */
export const CAUSAL_SOFTMAX_KERNELS: [string, tf.KernelFunc][] = [
  [FUSED.causalSoftmax, causalSoftmax], [gradOf(FUSED.causalSoftmax), causalSoftmaxGrad],
];
