// The LM head and the cross-entropy over the vocabulary as one op (see headCrossEntropy in
// lib/model/loss.ts): the [N, V] logits are the largest tensor of a step, and here they exist only
// inside the forward kernel.
//
// Forward: logits = h·Wᵀ (cuBLAS) into the loss tensor's tail, then one block per row computes
// loss = logsumexp(x) − x[target] with an online max/sum in one read, and overwrites the row in place
// with softmax(x) − onehot(target), the loss's gradient for the row (llm.c's trick), which the tail
// keeps for the backward pass. Between the two reads of a row, a block keeps what fits of it in shared
// memory (~112 KB of bf16's 130 at vocabulary 64,798, two blocks an SM), so that most of the row is
// read from memory once: 4.07 → 3.76 ms a step at 92m (H100). In float32; or, when matmuls run in
// bf16, in bfloat16 throughout — the GEMM writes bf16 logits, as PyTorch's autocast does: half the
// memory and half the traffic of the step's largest tensor, and the backward GEMMs read the gradient
// as it is.
//
// The vocabulary is padded to a multiple of 64 for the products (a row length like 64,798 misaligns
// cuBLAS's tensor-core GEMMs and makes them several times slower): the forward pass copies W, in the
// products' type, into a [V', D] matrix with zero rows after V, kept in the loss tensor's tail behind the
// logits, and the cross-entropy ignores those columns. The weight's gradient gets room for V' rows (the
// padding's zeros land past its V).
//
// Backward: each row's gradient is scaled by that row's incoming dy. Scaling the small operands
// instead of the [N, V] matrix saves a pass over it: dW = dlogitsᵀ·(dy∘h), dh = dy∘(dlogits·W).
import * as tf from '@tensorflow/tfjs';
import { FUSED, gradOf } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { BLOCK_REDUCE } from './block-reduce.js';
import { BF16_BITS, operand } from './bf16.js';
import { filled } from './layout.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Threads per row of logits, and the blocks of them an SM runs at once (the kernels' launch bounds). */
const ROW_THREADS = 1024;
const ROWS_AN_SM = 2;

/**
 * 16-byte pieces of a row the cross-entropy keeps in shared memory: as many as fit its share of an SM's
 * (less 2 KB: the 1 KB the GPU reserves a block and the reductions' own), at most the real classes'.
 */
function keptPieces(cuda: CudaBackend, classes: number, bf16: boolean): number {
  const fit = Math.floor((cuda.sharedPerMultiprocessor / ROWS_AN_SM - 2048) / 16);
  return Math.max(0, Math.min(fit, Math.ceil(classes / (bf16 ? 8 : 4))));
}

/**
 * Of V logits per row (V a multiple of 8: rows are read 16 bytes at a time) the first `classes` are
 * real, the rest padding (gradient 0). A target outside [0, classes) gives loss 0 and a zero gradient.
 * The row is overwritten by its gradient in place: each thread writes only what it has just read.
 * Exponentials are taken in base 2 of x·log2(e) (one multiply-add and the hardware's exp2 per value,
 * where expf's extra care for accuracy costs several instructions more: this kernel runs ~4·10⁹ of them).
 */
export const HEAD_LOSS_SOURCE = `${BLOCK_REDUCE}${BF16_BITS}
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f
__device__ __forceinline__ void put(float* p, float v) { *p = v; }
__device__ __forceinline__ void put(unsigned short* p, float v) { *p = bf16_bits(v); }
__device__ __forceinline__ float get(const float* p) { return *p; }
__device__ __forceinline__ float get(const unsigned short* p) { return __uint_as_float((unsigned)*p << 16); }
// 16 bytes of a row: 4 float32 or 8 bfloat16 values (WIDE of X), unpacked and packed.
template <typename X> struct Wide { static const int n = 16 / sizeof(X); };
__device__ __forceinline__ void unpack(uint4 q, float* v, const float*) { v[0] = __uint_as_float(q.x); v[1] = __uint_as_float(q.y); v[2] = __uint_as_float(q.z); v[3] = __uint_as_float(q.w); }
__device__ __forceinline__ void unpack(uint4 q, float* v, const unsigned short*) {
  unsigned w[4] = {q.x, q.y, q.z, q.w};
  for (int i = 0; i < 4; i++) { v[2 * i] = __uint_as_float(w[i] << 16); v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u); }
}
__device__ __forceinline__ void put_wide(float* p, const float* v) { *(float4*)p = make_float4(v[0], v[1], v[2], v[3]); }
__device__ __forceinline__ void put_wide(unsigned short* p, const float* v) {
  unsigned w[4];
  for (int i = 0; i < 4; i++) w[i] = bf16_bits(v[2 * i]) | ((unsigned)bf16_bits(v[2 * i + 1]) << 16);
  *(uint4*)p = make_uint4(w[0], w[1], w[2], w[3]);
}

// The row's first \`kept\` 16-byte pieces are kept in shared memory between the two passes, so that the
// second reads them from there instead of from memory again (where, 130 KB a row at 2 · 132 rows at a
// time, most of them have left L2).
template <typename X>
__device__ void cross_entropy_row(float* loss, X* logits, const int* targets, int V, int classes, int kept) {
  extern __shared__ uint4 kept_row[];
  const int W = Wide<X>::n;
  X* row = logits + (long long)blockIdx.x * V;
  int target = targets[blockIdx.x];
  // Online max and sum of exponentials (of x·log2 e), W logits at a time: rescale the sum when the max grows.
  float m = __int_as_float(0xff800000), sum = 0.0f;
  for (int c = threadIdx.x; c * W < classes; c += blockDim.x) {
    int j = c * W;
    uint4 raw = *(const uint4*)(row + j);
    if (c < kept) kept_row[c] = raw;
    float v[W];
    unpack(raw, v, row);
    float mx = m;
    for (int i = 0; i < W; i++) if (j + i < classes) mx = fmaxf(mx, v[i] * LOG2E);
    sum *= exp2f(m - mx);
    m = mx;
    for (int i = 0; i < W; i++) if (j + i < classes) sum += exp2f(fmaf(v[i], LOG2E, -m));
  }
  float mAll = block_max(m);
  sum = block_sum(m == mAll ? sum : sum * exp2f(m - mAll));  // a thread that saw nothing has m = −∞, sum 0
  bool valid = target >= 0 && target < classes;
  if (threadIdx.x == 0) loss[blockIdx.x] = valid ? (log2f(sum) + mAll) * LN2 - get(row + target) : 0.0f;
  __syncthreads();  // every thread has read row[target] before it may be overwritten
  float inv = 1.0f / sum;
  for (int c = threadIdx.x; c * W < V; c += blockDim.x) {
    int j = c * W;
    float v[W];
    unpack(c < kept ? kept_row[c] : *(const uint4*)(row + j), v, row);
    for (int i = 0; i < W; i++) v[i] = valid && j + i < classes ? exp2f(fmaf(v[i], LOG2E, -mAll)) * inv - (j + i == target ? 1.0f : 0.0f) : 0.0f;
    put_wide(row + j, v);
  }
}
// ROWS_AN_SM blocks an SM (32 registers a thread), each keeping what its share of the SM's shared memory holds.
#define ROW_BOUNDS __launch_bounds__(${ROW_THREADS}, ${ROWS_AN_SM})
extern "C" __global__ void ROW_BOUNDS cross_entropy(float* loss, float* logits, const int* targets, int V, int classes, int kept) { cross_entropy_row(loss, logits, targets, V, classes, kept); }
extern "C" __global__ void ROW_BOUNDS cross_entropy_bf16(float* loss, unsigned short* logits, const int* targets, int V, int classes, int kept) { cross_entropy_row(loss, logits, targets, V, classes, kept); }

// out = dy∘x for x [N, D] and dy [N] (may be in place).
template <typename T>
__device__ void scale_rows_to(T* out, const float* x, const float* dy, int D, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) put(out + i, x[i] * dy[i / D]);
}
extern "C" __global__ void scale_rows(float* out, const float* x, const float* dy, int D, long long n) { scale_rows_to(out, x, dy, D, n); }
extern "C" __global__ void scale_rows_bf16(unsigned short* out, const float* x, const float* dy, int D, long long n) { scale_rows_to(out, x, dy, D, n); }

// out[i] = x[i] for i < n, then zeros up to padded: W's rows and the padding's (4-byte or bfloat16 elements).
template <typename E>
__device__ void pad_to(E* out, const E* x, long long n, long long padded) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < padded; i += (long long)gridDim.x * blockDim.x) out[i] = i < n ? x[i] : (E)0;
}
extern "C" __global__ void pad_rows(unsigned* out, const unsigned* x, long long n, long long padded) { pad_to(out, x, n, padded); }
extern "C" __global__ void pad_rows_bf16(unsigned short* out, const unsigned short* x, long long n, long long padded) { pad_to(out, x, n, padded); }
`;

/** Vocabulary rows are padded to a multiple of this for the products (aligned GEMM operands). */
const HEAD_ALIGN = 64;

/** The head's layout for V classes of width D over N rows: V' padded rows, and the loss tensor's tail (the logits, then W padded when V' > V). */
function headLayout(N: number, V: number, D: number, bf16: boolean) {
  const padded = Math.ceil(V / HEAD_ALIGN) * HEAD_ALIGN;
  const element = bf16 ? 2 : 4;
  const logitBytes = N * padded * element;
  return { padded, logitBytes, tailBytes: logitBytes + (padded > V ? padded * D * element : 0) };
}

const headLoss: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { h, weight, targets } = inputs as { h: tf.TensorInfo; weight: tf.TensorInfo; targets: tf.TensorInfo }; // [N, D], [V, D], [N]
  const cuda = backend as CudaBackend;
  const [N, D] = h.shape as [number, number];
  const V = weight.shape[0]!;
  const bf16 = cuda.matmulPrecision === 'bf16';
  const { padded, logitBytes, tailBytes } = headLayout(N, V, D, bf16);
  const loss = cuda.allocate([N], 'float32', tailBytes);
  if (N === 0) return loss;
  const logits = cuda.tail(loss).ptr; // [N, V']: the logits, then (in place) their gradient
  let w = operand(cuda, weight, bf16);
  if (padded > V) { // W [V', D] behind the logits, for this product and the backward's
    const wPadded = logits + BigInt(logitBytes);
    cuda.launchElementwise(HEAD_LOSS_SOURCE, bf16 ? 'pad_rows_bf16' : 'pad_rows', padded * D, [wPadded, w, BigInt(V * D), BigInt(padded * D)]);
    w = wPadded;
  }
  cuda.gemm({
    m: N, n: padded, k: D, transposeA: false, transposeB: true, a: operand(cuda, h, bf16), b: w, c: logits, strideA: 0, strideB: 0, batch: 1,
    precision: cuda.matmulPrecision, output: bf16 ? 'bfloat16' : 'float32',
  });
  const kept = keptPieces(cuda, V, bf16);
  cuda.launch(HEAD_LOSS_SOURCE, bf16 ? 'cross_entropy_bf16' : 'cross_entropy', N, ROW_THREADS, [cuda.pointer(loss), logits, cuda.pointer(targets), { i32: padded }, { i32: V }, { i32: kept }], 16 * kept);
  return loss;
};

const headLossGrad: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { dy, h, weight, loss } = inputs as { dy: tf.TensorInfo; h: tf.TensorInfo; weight: tf.TensorInfo; loss: tf.TensorInfo };
  const cuda = backend as CudaBackend;
  const [N, D] = h.shape as [number, number];
  const V = weight.shape[0]!;
  const { ptr: dlogits, bytes } = cuda.tail(loss);
  const bf16 = bytes === headLayout(N, V, D, true).tailBytes; // as the forward pass stored it
  const { padded, logitBytes } = headLayout(N, V, D, bf16);
  if (N === 0) return [cuda.allocate([N, D], 'float32'), filled(cuda, [V, D], 'float32', 0)];
  const dh = cuda.allocate([N, D], 'float32');
  const dweight = cuda.allocate([V, D], 'float32', (padded - V) * D * 4); // room for the product's V' rows
  const precision = bf16 ? 'bf16' : cuda.matmulPrecision === 'fp32' ? 'fp32' : 'tf32';
  const hs = cuda.scratch(N * D * (bf16 ? 2 : 4)); // dy∘h, in the GEMM's input type
  cuda.launchElementwise(HEAD_LOSS_SOURCE, bf16 ? 'scale_rows_bf16' : 'scale_rows', N * D, [hs, cuda.pointer(h), cuda.pointer(dy), { i32: D }, BigInt(N * D)]);
  const w = padded > V ? dlogits + BigInt(logitBytes) : operand(cuda, weight, bf16);
  const gemm = { strideA: 0, strideB: 0, batch: 1, precision } as const;
  cuda.gemm({ ...gemm, m: padded, n: D, k: N, transposeA: true, transposeB: false, a: dlogits, b: hs, c: cuda.pointer(dweight) });
  cuda.gemm({ ...gemm, m: N, n: D, k: padded, transposeA: false, transposeB: false, a: dlogits, b: w, c: cuda.pointer(dh) });
  cuda.launchElementwise(HEAD_LOSS_SOURCE, 'scale_rows', N * D, [cuda.pointer(dh), cuda.pointer(dh), cuda.pointer(dy), { i32: D }, BigInt(N * D)]);
  cuda.release(hs);
  return [dh, dweight];
};

/** This family's tfjs kernels by name. */
export const HEAD_LOSS_KERNELS: [string, tf.KernelFunc][] = [[FUSED.headCrossEntropy, headLoss], [gradOf(FUSED.headCrossEntropy), headLossGrad]];
