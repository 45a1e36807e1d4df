// Fused softmax kernels (see lib/model/fused.ts): the causal attention softmax (scale, mask and
// normalise in one pass; its backward in one more) and the cross-entropy over the vocabulary, which
// computes each row's loss and leaves softmax − onehot in the logits' own buffer for the backward pass
// (llm.c's trick: the [N, V] logits are the largest tensor of a step; no second copy is made).
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../backend.js';
import { BLOCK_REDUCE, ROW_BLOCK } from './block-reduce.js';
import { sameData } from './layout.js';

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

/**
 * Per row of V logits of which the first `classes` are real (the rest padding): loss = logsumexp(x) −
 * x[target], by an online max/sum in one read; then the row is overwritten with softmax(x) −
 * onehot(target), the gradient of the loss (0 on padding). A target outside [0, classes) gives loss 0
 * and a zero gradient.
 */
export const CROSS_ENTROPY_SOURCE = `${BLOCK_REDUCE}
extern "C" __global__ void cross_entropy(float* loss, float* x, const int* targets, int V, int classes) {
  float* row = x + (long long)blockIdx.x * V;
  int target = targets[blockIdx.x];
  float m = __int_as_float(0xff800000), sum = 0.0f;
  for (int j = threadIdx.x; j < classes; j += blockDim.x) {
    float v = row[j];
    if (v > m) { sum *= expf(m - v); m = v; }
    sum += expf(v - m);
  }
  float mAll = block_max(m);
  sum = block_sum(sum * expf(m - mAll));
  bool valid = target >= 0 && target < classes;
  if (threadIdx.x == 0) loss[blockIdx.x] = valid ? logf(sum) + mAll - row[target] : 0.0f;
  __syncthreads();  // every thread has read row[target] before it is overwritten
  float inv = 1.0f / sum;
  for (int j = threadIdx.x; j < V; j += blockDim.x) row[j] = valid && j < classes ? expf(row[j] - mAll) * inv - (j == target ? 1.0f : 0.0f) : 0.0f;
}
extern "C" __global__ void scale_rows(float* x, const float* dy, int V, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) x[i] *= dy[i / V];
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

const crossEntropy: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { logits, targets } = inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo };
  const cuda = backend as CudaBackend;
  const [N, V] = logits.shape as [number, number];
  const loss = cuda.allocate([N], 'float32');
  const classes = (attrs!.classes as number | undefined) ?? V;
  if (N > 0) cuda.launch(CROSS_ENTROPY_SOURCE, 'cross_entropy', N, 1024, [cuda.pointer(loss), cuda.pointer(logits), cuda.pointer(targets), { i32: V }, { i32: classes }]);
  return loss;
};

/** dlogits (already softmax − onehot) scaled by each row's dy, in place: returns the same data. */
const crossEntropyGrad: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { dlogits, dy } = inputs as { dlogits: tf.TensorInfo; dy: tf.TensorInfo };
  const cuda = backend as CudaBackend;
  const n = tf.util.sizeFromShape(dlogits.shape);
  cuda.launchElementwise(CROSS_ENTROPY_SOURCE, 'scale_rows', n, [cuda.pointer(dlogits), cuda.pointer(dy), { i32: dlogits.shape[1]! }, BigInt(n)]);
  return sameData(dlogits, dlogits.shape, cuda);
};

/** This family's tfjs kernels by name. */
export const FUSED_SOFTMAX_KERNELS: [string, tf.KernelFunc][] = [
  ['TinyCausalSoftmax', causalSoftmax], ['TinyCausalSoftmaxGrad', causalSoftmaxGrad], ['TinyCrossEntropy', crossEntropy], ['TinyCrossEntropyGrad', crossEntropyGrad],
];
