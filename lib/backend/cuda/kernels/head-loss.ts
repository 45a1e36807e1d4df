// The LM head and the cross-entropy over the vocabulary as one op (see headCrossEntropy in
// lib/model/loss.ts): the [N, V] logits are the largest tensor of a step, and here they exist only
// inside the forward kernel.
//
// Forward: logits = h·Wᵀ (cuBLAS) into the loss tensor's tail, then one block per row computes
// loss = logsumexp(x) − x[target] and overwrites the row in place with the loss's gradient for the row,
// softmax(x) − onehot(target) (llm.c's trick), left times the row's sum of exponentials S (see the
// kernel), which the tail keeps for the backward pass. Between the two reads of a row, a block keeps what fits of it in shared
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
// Backward: each row's stored values are scaled by that row's incoming dy and its 1/S. Scaling the small
// operands instead of the [N, V] matrix saves a pass over it: with s = dy/S, dW = dlogitsᵀ·(s∘h) and
// dh = s∘(dlogits·W).
import * as tf from '@tensorflow/tfjs';
import { FUSED, gradOf } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { BLOCK_REDUCE } from './block-reduce.js';
import { BF16_BITS, loadFrom, operand } from './bf16.js';
import { EXP2_SOURCE } from './exp2.js';
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
 *
 * Pass 1 finds the row's max m. Pass 2 overwrites each logit x by e = 2^((x − m)·log2 e), summing them
 * (S), and thread 0 then puts e − S at the target: the row holds S·(softmax − onehot), the gradient
 * times S, and `scale` gets 1/S, which the backward applies to its small operands with the incoming
 * dy. One exponential a logit (an online max and sum in pass 1 took two: one there, one to normalise),
 * in the one instruction of exp2_fast, and the hardware's bfloat16 conversion: this kernel handles
 * ~2·10⁹ logits a step at 92m, and its instructions, not only its bytes, were what it waited on
 * (the same bytes: 3.81 → 2.89 ms a step at 92m, H100).
 * Each thread writes only what it has just read, and the barrier of pass 1's reduction orders every
 * read of row[target] before pass 2's writes.
 */
export const HEAD_LOSS_SOURCE = `${BLOCK_REDUCE}${BF16_BITS}${EXP2_SOURCE}
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
  *(uint4*)p = make_uint4(bf16_pair(v[0], v[1]), bf16_pair(v[2], v[3]), bf16_pair(v[4], v[5]), bf16_pair(v[6], v[7]));
}

// The row's first \`kept\` 16-byte pieces are kept in shared memory between the two passes, so that the
// second reads them from there instead of from memory again (where, 130 KB a row at 2 · 132 rows at a
// time, most of them have left L2). Only the piece that holds the last class also holds padding: it
// alone takes the per-value check.
template <typename X>
__device__ void cross_entropy_row(float* loss, float* scale, X* logits, const int* targets, int V, int classes, int kept) {
  extern __shared__ uint4 kept_row[];
  const int W = Wide<X>::n;
  X* row = logits + (long long)blockIdx.x * V;
  int target = targets[blockIdx.x];
  bool valid = target >= 0 && target < classes;
  float x_target = valid ? get(row + target) : 0.0f;
  float m = __int_as_float(0xff800000);
  for (int c = threadIdx.x; c * W < classes; c += blockDim.x) {
    int j = c * W;
    uint4 raw = *(const uint4*)(row + j);
    if (c < kept) kept_row[c] = raw;
    float v[W];
    unpack(raw, v, row);
    if (j + W <= classes) for (int i = 0; i < W; i++) m = fmaxf(m, v[i]);
    else for (int i = 0; i < W; i++) if (j + i < classes) m = fmaxf(m, v[i]);
  }
  float shift = block_max(m) * LOG2E;  // (exponents x·log2 e − shift: one multiply-add a value)
  float sum = 0.0f;
  for (int c = threadIdx.x; c * W < V; c += blockDim.x) {
    int j = c * W;
    float v[W];
    if (valid && j < classes) {
      unpack(c < kept ? kept_row[c] : *(const uint4*)(row + j), v, row);
      if (j + W <= classes) for (int i = 0; i < W; i++) { v[i] = exp2_fast(fmaf(v[i], LOG2E, -shift)); sum += v[i]; }
      else for (int i = 0; i < W; i++) { v[i] = j + i < classes ? exp2_fast(fmaf(v[i], LOG2E, -shift)) : 0.0f; sum += v[i]; }
    } else {
      for (int i = 0; i < W; i++) v[i] = 0.0f;
    }
    put_wide(row + j, v);
  }
  sum = block_sum(sum);  // (its barrier: thread 0's write below lands after the one of pass 2 at the target)
  if (threadIdx.x == 0) {
    loss[blockIdx.x] = valid ? (shift + log2f(sum)) * LN2 - x_target : 0.0f;
    scale[blockIdx.x] = valid ? 1.0f / sum : 0.0f;
    if (valid) put(row + target, exp2_fast(fmaf(x_target, LOG2E, -shift)) - sum);
  }
}
// ROWS_AN_SM blocks an SM (32 registers a thread), each keeping what its share of the SM's shared memory holds.
#define ROW_BOUNDS __launch_bounds__(${ROW_THREADS}, ${ROWS_AN_SM})
extern "C" __global__ void ROW_BOUNDS cross_entropy(float* loss, float* scale, float* logits, const int* targets, int V, int classes, int kept) { cross_entropy_row(loss, scale, logits, targets, V, classes, kept); }
extern "C" __global__ void ROW_BOUNDS cross_entropy_bf16(float* loss, float* scale, unsigned short* logits, const int* targets, int V, int classes, int kept) { cross_entropy_row(loss, scale, logits, targets, V, classes, kept); }

// out = (dy∘scale)∘x for x [N, D] (load()ed: float32, or bfloat16 when kept so), dy and scale [N] (may be in place).
template <typename T>
__device__ void scale_rows_to(T* out, const float* x, const unsigned short* x16, const float* dy, const float* scale, int D, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) put(out + i, load(x, x16, i) * (dy[i / D] * scale[i / D]));
}
extern "C" __global__ void scale_rows(float* out, const float* x, const unsigned short* x16, const float* dy, const float* scale, int D, long long n) { scale_rows_to(out, x, x16, dy, scale, D, n); }
extern "C" __global__ void scale_rows_bf16(unsigned short* out, const float* x, const unsigned short* x16, const float* dy, const float* scale, int D, long long n) { scale_rows_to(out, x, x16, dy, scale, D, n); }

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

/**
 * The head's layout for V classes of width D over N rows: V' padded rows, and the byte offsets in the
 * loss tensor's tail of the logits (then their gradient times each row's S) [N, V'], W padded [V', D]
 * when V' > V, and each row's 1/S [N].
 */
function headLayout(N: number, V: number, D: number, bf16: boolean) {
  const padded = Math.ceil(V / HEAD_ALIGN) * HEAD_ALIGN;
  const element = bf16 ? 2 : 4;
  const weightAt = N * padded * element;
  const scaleAt = weightAt + (padded > V ? padded * D * element : 0);
  return { padded, weightAt, scaleAt, tailBytes: scaleAt + N * 4 };
}

const headLoss: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { h, weight, targets } = inputs as { h: tf.TensorInfo; weight: tf.TensorInfo; targets: tf.TensorInfo }; // [N, D], [V, D], [N]
  const cuda = backend as CudaBackend;
  const [N, D] = h.shape as [number, number];
  const V = weight.shape[0]!;
  const bf16 = cuda.matmulPrecision === 'bf16';
  const { padded, weightAt, scaleAt, tailBytes } = headLayout(N, V, D, bf16);
  const loss = cuda.allocate([N], 'float32', tailBytes);
  if (N === 0) return loss;
  const logits = cuda.tail(loss).ptr; // [N, V']: the logits, then (in place) their gradient times S
  let w = operand(cuda, weight, bf16);
  if (padded > V) { // W [V', D] behind the logits, for this product and the backward's
    const wPadded = logits + BigInt(weightAt);
    cuda.launchElementwise(HEAD_LOSS_SOURCE, bf16 ? 'pad_rows_bf16' : 'pad_rows', padded * D, [wPadded, w, BigInt(V * D), BigInt(padded * D)]);
    w = wPadded;
  }
  cuda.gemm({
    m: N, n: padded, k: D, transposeA: false, transposeB: true, a: operand(cuda, h, bf16), b: w, c: logits, strideA: 0, strideB: 0, batch: 1,
    precision: cuda.matmulPrecision, output: bf16 ? 'bfloat16' : 'float32',
  });
  const kept = keptPieces(cuda, V, bf16);
  const args = [cuda.pointer(loss), logits + BigInt(scaleAt), logits, cuda.pointer(targets), { i32: padded }, { i32: V }, { i32: kept }];
  cuda.launch(HEAD_LOSS_SOURCE, bf16 ? 'cross_entropy_bf16' : 'cross_entropy', N, ROW_THREADS, args, 16 * kept);
  return loss;
};

const headLossGrad: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { dy, h, weight, loss } = inputs as { dy: tf.TensorInfo; h: tf.TensorInfo; weight: tf.TensorInfo; loss: tf.TensorInfo };
  const cuda = backend as CudaBackend;
  const [N, D] = h.shape as [number, number];
  const V = weight.shape[0]!;
  const { ptr: dlogits, bytes } = cuda.tail(loss);
  const bf16 = bytes === headLayout(N, V, D, true).tailBytes; // as the forward pass stored it
  const { padded, weightAt, scaleAt } = headLayout(N, V, D, bf16);
  if (N === 0) return [cuda.allocate([N, D], 'float32'), filled(cuda, [V, D], 'float32', 0)];
  const dh = cuda.allocate([N, D], 'float32');
  const dweight = cuda.allocate([V, D], 'float32', (padded - V) * D * 4); // room for the product's V' rows
  const precision = bf16 ? 'bf16' : cuda.matmulPrecision === 'fp32' ? 'fp32' : 'tf32';
  const scale = dlogits + BigInt(scaleAt); // each row's 1/S, which turns the stored rows into the gradient
  const hs = cuda.scratch(N * D * (bf16 ? 2 : 4)); // (dy/S)∘h, in the GEMM's input type
  const hIn = loadFrom(cuda, h); // (the final norm's output, kept as bfloat16 only in bf16)
  cuda.launchElementwise(HEAD_LOSS_SOURCE, bf16 ? 'scale_rows_bf16' : 'scale_rows', N * D, [hs, hIn.x, hIn.x16, cuda.pointer(dy), scale, { i32: D }, BigInt(N * D)]);
  const w = padded > V ? dlogits + BigInt(weightAt) : operand(cuda, weight, bf16);
  const gemm = { strideA: 0, strideB: 0, batch: 1, precision } as const;
  cuda.gemm({ ...gemm, m: padded, n: D, k: N, transposeA: true, transposeB: false, a: dlogits, b: hs, c: cuda.pointer(dweight) });
  cuda.gemm({ ...gemm, m: N, n: D, k: padded, transposeA: false, transposeB: false, a: dlogits, b: w, c: cuda.pointer(dh) });
  cuda.launchElementwise(HEAD_LOSS_SOURCE, 'scale_rows', N * D, [cuda.pointer(dh), cuda.pointer(dh), 0n, cuda.pointer(dy), scale, { i32: D }, BigInt(N * D)]);
  cuda.release(hs);
  return [dh, dweight];
};

/** This family's tfjs kernels by name. */
export const HEAD_LOSS_KERNELS: [string, tf.KernelFunc][] = [[FUSED.headCrossEntropy, headLoss], [gradOf(FUSED.headCrossEntropy), headLossGrad]];
