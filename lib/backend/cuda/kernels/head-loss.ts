// The LM head and the cross-entropy over the vocabulary as one op (see headCrossEntropy in
// lib/model/loss.ts): the [N, V] logits are the largest tensor of a step, and here they exist only
// inside the forward kernel.
//
// Forward: logits = h·Wᵀ (cuBLAS) into the loss tensor's tail, then one block per row computes
// loss = logsumexp(x) − x[target] with an online max/sum in one read, and overwrites the row in place
// with softmax(x) − onehot(target), the loss's gradient for the row (llm.c's trick), which the tail
// keeps for the backward pass. In float32; or, when matmuls run in bf16, in bfloat16 throughout — the
// GEMM writes bf16 logits, as PyTorch's autocast does: half the memory and half the traffic of the
// step's largest tensor, and the backward GEMMs read the gradient as it is.
//
// Backward: each row's gradient is scaled by that row's incoming dy. Scaling the small operands
// instead of the [N, V] matrix saves a pass over it: dW = dlogitsᵀ·(dy∘h), dh = dy∘(dlogits·W).
import * as tf from '@tensorflow/tfjs';
import { FUSED, gradOf } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { BLOCK_REDUCE } from './block-reduce.js';
import { BF16_BITS, operand } from './bf16.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Threads per row of logits. */
const ROW_THREADS = 1024;

/**
 * Of V logits per row (V a multiple of 4: rows are read 4 values at a time) the first `classes` are
 * real, the rest padding (gradient 0). A target outside [0, classes) gives loss 0 and a zero gradient.
 * The row is overwritten by its gradient in place: each thread writes only what it has just read.
 */
export const HEAD_LOSS_SOURCE = `${BLOCK_REDUCE}${BF16_BITS}
__device__ __forceinline__ void put(float* p, float v) { *p = v; }
__device__ __forceinline__ void put(unsigned short* p, float v) { *p = bf16_bits(v); }
__device__ __forceinline__ void put4(float* p, const float* v) { *(float4*)p = make_float4(v[0], v[1], v[2], v[3]); }
__device__ __forceinline__ void put4(unsigned short* p, const float* v) {
  *(uint2*)p = make_uint2(bf16_bits(v[0]) | ((unsigned)bf16_bits(v[1]) << 16), bf16_bits(v[2]) | ((unsigned)bf16_bits(v[3]) << 16));
}
__device__ __forceinline__ float get(const float* p) { return *p; }
__device__ __forceinline__ float get(const unsigned short* p) { return __uint_as_float((unsigned)*p << 16); }
__device__ __forceinline__ void get4(const float* p, float* v) { float4 q = *(const float4*)p; v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w; }
__device__ __forceinline__ void get4(const unsigned short* p, float* v) {
  uint2 q = *(const uint2*)p;
  v[0] = __uint_as_float(q.x << 16); v[1] = __uint_as_float(q.x & 0xffff0000u); v[2] = __uint_as_float(q.y << 16); v[3] = __uint_as_float(q.y & 0xffff0000u);
}

template <typename X>
__device__ void cross_entropy_row(float* loss, X* logits, const int* targets, int V, int classes) {
  X* row = logits + (long long)blockIdx.x * V;
  int target = targets[blockIdx.x];
  // Online max and sum of exponentials, 4 logits at a time: rescale the sum when the max grows.
  float m = __int_as_float(0xff800000), sum = 0.0f;
  for (int j = 4 * threadIdx.x; j < classes; j += 4 * blockDim.x) {
    float v[4];
    get4(row + j, v);
    float mx = m;
    for (int i = 0; i < 4; i++) if (j + i < classes) mx = fmaxf(mx, v[i]);
    sum *= expf(m - mx);
    m = mx;
    for (int i = 0; i < 4; i++) if (j + i < classes) sum += expf(v[i] - m);
  }
  float mAll = block_max(m);
  sum = block_sum(m == mAll ? sum : sum * expf(m - mAll));  // a thread that saw nothing has m = −∞, sum 0
  bool valid = target >= 0 && target < classes;
  if (threadIdx.x == 0) loss[blockIdx.x] = valid ? logf(sum) + mAll - get(row + target) : 0.0f;
  __syncthreads();  // every thread has read row[target] before it may be overwritten
  float inv = 1.0f / sum;
  for (int j = 4 * threadIdx.x; j < V; j += 4 * blockDim.x) {
    float v[4];
    get4(row + j, v);
    for (int i = 0; i < 4; i++) v[i] = valid && j + i < classes ? expf(v[i] - mAll) * inv - (j + i == target ? 1.0f : 0.0f) : 0.0f;
    put4(row + j, v);
  }
}
extern "C" __global__ void cross_entropy(float* loss, float* logits, const int* targets, int V, int classes) { cross_entropy_row(loss, logits, targets, V, classes); }
extern "C" __global__ void cross_entropy_bf16(float* loss, unsigned short* logits, const int* targets, int V, int classes) { cross_entropy_row(loss, logits, targets, V, classes); }

// out = dy∘x for x [N, D] and dy [N] (may be in place).
template <typename T>
__device__ void scale_rows_to(T* out, const float* x, const float* dy, int D, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) put(out + i, x[i] * dy[i / D]);
}
extern "C" __global__ void scale_rows(float* out, const float* x, const float* dy, int D, long long n) { scale_rows_to(out, x, dy, D, n); }
extern "C" __global__ void scale_rows_bf16(unsigned short* out, const float* x, const float* dy, int D, long long n) { scale_rows_to(out, x, dy, D, n); }
`;

const headLoss: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { h, weight, targets } = inputs as { h: tf.TensorInfo; weight: tf.TensorInfo; targets: tf.TensorInfo }; // [N, D], [V, D], [N]
  const cuda = backend as CudaBackend;
  const [N, D] = h.shape as [number, number];
  const V = weight.shape[0]!;
  if (V % 4 !== 0) throw new Error(`cuda backend: TinyHeadCrossEntropy reads rows of 4 logits at a time: pad the vocabulary (${V}) to a multiple of 4`);
  const bf16 = cuda.matmulPrecision === 'bf16';
  const loss = cuda.allocate([N], 'float32', N * V * (bf16 ? 2 : 4));
  if (N === 0) return loss;
  const logits = cuda.tail(loss).ptr; // [N, V]: the logits, then (in place) their gradient
  const [a, b] = [operand(cuda, h, bf16), operand(cuda, weight, bf16)];
  cuda.gemm({
    m: N, n: V, k: D, transposeA: false, transposeB: true, a: a!, b: b!, c: logits, strideA: 0, strideB: 0, batch: 1,
    precision: cuda.matmulPrecision, output: bf16 ? 'bfloat16' : 'float32',
  });
  cuda.launch(HEAD_LOSS_SOURCE, bf16 ? 'cross_entropy_bf16' : 'cross_entropy', N, ROW_THREADS, [
    cuda.pointer(loss), logits, cuda.pointer(targets), { i32: V }, { i32: (attrs!.classes as number | undefined) ?? V },
  ]);
  return loss;
};

const headLossGrad: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { dy, h, weight, loss } = inputs as { dy: tf.TensorInfo; h: tf.TensorInfo; weight: tf.TensorInfo; loss: tf.TensorInfo };
  const cuda = backend as CudaBackend;
  const [N, D] = h.shape as [number, number];
  const V = weight.shape[0]!;
  const dh = cuda.allocate([N, D], 'float32');
  const dweight = cuda.allocate([V, D], 'float32');
  if (N === 0) return [dh, dweight];
  const { ptr: dlogits, bytes } = cuda.tail(loss);
  const bf16 = bytes === N * V * 2; // as the forward pass stored it
  const precision = bf16 ? 'bf16' : cuda.matmulPrecision === 'fp32' ? 'fp32' : 'tf32';
  const hs = cuda.scratch(N * D * (bf16 ? 2 : 4)); // dy∘h, in the GEMM's input type
  cuda.launchElementwise(HEAD_LOSS_SOURCE, bf16 ? 'scale_rows_bf16' : 'scale_rows', N * D, [hs, cuda.pointer(h), cuda.pointer(dy), { i32: D }, BigInt(N * D)]);
  const w = operand(cuda, weight, bf16);
  const gemm = { strideA: 0, strideB: 0, batch: 1, precision } as const;
  cuda.gemm({ ...gemm, m: V, n: D, k: N, transposeA: true, transposeB: false, a: dlogits, b: hs, c: cuda.pointer(dweight) });
  cuda.gemm({ ...gemm, m: N, n: D, k: V, transposeA: false, transposeB: false, a: dlogits, b: w, c: cuda.pointer(dh) });
  cuda.launchElementwise(HEAD_LOSS_SOURCE, 'scale_rows', N * D, [cuda.pointer(dh), cuda.pointer(dh), cuda.pointer(dy), { i32: D }, BigInt(N * D)]);
  cuda.release(hs);
  return [dh, dweight];
};

/** This family's tfjs kernels by name. */
export const HEAD_LOSS_KERNELS: [string, tf.KernelFunc][] = [[FUSED.headCrossEntropy, headLoss], [gradOf(FUSED.headCrossEntropy), headLossGrad]];
