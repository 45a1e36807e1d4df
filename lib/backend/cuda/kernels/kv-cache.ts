// The KV cache's kernels (lib/model/kv-cache.ts) on the GPU. Both read the cache rows and positions
// from device memory, not from kernel arguments, so the same launches serve every decoding step (a
// CUDA graph replays them), and both apply RoPE at those positions themselves:
// - kv_cache_write: one thread per value of the step's keys (or values), into its slot, in place;
// - kv_cache_attend: one block per (row, query, head): the rotated query and the scores over the row's
//   slots up to the query's position in shared memory, softmax, then the weighted sum of the values.
// The step's keys, values and queries are read with load(): float32, or bfloat16 when the projections'
// outputs are kept so (products in bf16).
import * as tf from '@tensorflow/tfjs';
import { KV_CACHE } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { BF16_BITS, loadFrom } from './bf16.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Threads of an attend block: the slots are shared out among them, then groups of a head's channels. */
const ATTEND_THREADS = 256;

export const KV_CACHE_SOURCE = `${BF16_BITS}
// Value d of a head vector at position p, rotated by RoPE (HF's rotate-half: d pairs with d ± Dh/2).
// The head vector starts at element i of x (load()'s pair).
__device__ __forceinline__ float rope_at(const float* x, const unsigned short* x16, long long i, int d, int Dh, const float* cos_t, const float* sin_t, int p) {
  float pair = d < Dh / 2 ? -load(x, x16, i + d + Dh / 2) : load(x, x16, i + d - Dh / 2);
  return load(x, x16, i + d) * cos_t[(long long)p * Dh + d] + pair * sin_t[(long long)p * Dh + d];
}

// cache [R, K, C, Dh][rows[b], k, positions[b, t], d] = update [B, T, K, Dh][b, t, k, d], rotated at its
// position when cos_t is given (keys; values are copied as they are).
extern "C" __global__ void kv_cache_write(float* cache, const float* update, const unsigned short* update16, const int* rows, const int* positions,
    const float* cos_t, const float* sin_t, int B, int T, int K, int C, int Dh) {
  long long n = (long long)B * T * K * Dh;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    int d = (int)(i % Dh), k = (int)(i / Dh % K);
    long long bt = i / ((long long)Dh * K);  // b·T + t
    int b = (int)(bt / T), p = positions[bt];
    cache[(((long long)rows[b] * K + k) * C + p) * Dh + d] = cos_t ? rope_at(update, update16, i - d, d, Dh, cos_t, sin_t, p) : load(update, update16, i);
  }
}

__device__ __forceinline__ float block_reduce(float v, float* scratch, bool is_max) {
  for (int o = 16; o > 0; o >>= 1) {
    float other = __shfl_xor_sync(0xffffffffu, v, o);
    v = is_max ? fmaxf(v, other) : v + other;
  }
  int warp = threadIdx.x / 32, lane = threadIdx.x & 31, warps = blockDim.x / 32;
  __syncthreads();  // scratch may still be read by the previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < warps; w++) v = is_max ? fmaxf(v, scratch[w]) : v + scratch[w];
  return v;
}

// out [B, T, H, Dh]: block (b·T + t)·H + h; query head h reads K/V head h / (H / K) of cache row rows[b].
// Dynamic shared memory: the rotated query (Dh floats), one score per slot (C), 32 for the reductions,
// then blockDim / Dh partial sums of Dh. The weighted sum splits the slots among blockDim / Dh groups of
// Dh threads (one channel each): each group's loads are one contiguous row, and the groups' rows are in
// flight together instead of one slot after another.
extern "C" __global__ void kv_cache_attend(float* out, const float* q, const unsigned short* q16, const float* keys, const float* values,
    const int* rows, const int* positions, const float* cos_t, const float* sin_t, int T, int H, int K, int C, int Dh, float scale) {
  extern __shared__ float shared[];
  float* query = shared;
  float* scores = query + Dh;
  float* scratch = scores + C;
  float* partial = scratch + 32;
  int h = blockIdx.x % H, bt = blockIdx.x / H, b = bt / T;
  int last = positions[bt];
  for (int d = threadIdx.x; d < Dh; d += blockDim.x) query[d] = rope_at(q, q16, (long long)blockIdx.x * Dh, d, Dh, cos_t, sin_t, last);
  __syncthreads();
  long long base = ((long long)rows[b] * K + h / (H / K)) * C * Dh;
  float max = -3.0e38f;
  for (int s = threadIdx.x; s <= last; s += blockDim.x) {
    const float* key = keys + base + (long long)s * Dh;
    float dot = 0.0f;
    for (int d = 0; d < Dh; d++) dot += query[d] * key[d];
    scores[s] = dot * scale;
    max = fmaxf(max, scores[s]);
  }
  max = block_reduce(max, scratch, true);
  float sum = 0.0f;
  for (int s = threadIdx.x; s <= last; s += blockDim.x) sum += scores[s] = __expf(scores[s] - max);
  sum = block_reduce(sum, scratch, false);
  __syncthreads();  // every score written before any thread reads them all
  int groups = blockDim.x / Dh, g = threadIdx.x / Dh, d = threadIdx.x % Dh;
  if (g < groups) {
    float acc = 0.0f;
    #pragma unroll 4
    for (int s = g; s <= last; s += groups) acc += scores[s] * values[base + (long long)s * Dh + d];
    partial[g * Dh + d] = acc;
  }
  __syncthreads();
  for (int c = threadIdx.x; c < Dh; c += blockDim.x) {
    float acc = 0.0f;
    for (int k = 0; k < groups; k++) acc += partial[k * Dh + c];
    out[(long long)blockIdx.x * Dh + c] = acc / sum;
  }
}
`;

/** inputs {cache [R, K, C, Dh], update [B, T, K, Dh], rows [B], positions [B, T], cos?, sin?}: writes in place, returns nothing. */
const write: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { cache, update, rows, positions, cos, sin } = inputs as Record<string, tf.TensorInfo | undefined>;
  const [B, T, K, Dh] = update!.shape as number[];
  const cuda = backend as CudaBackend;
  const u = loadFrom(cuda, update!);
  cuda.launchElementwise(KV_CACHE_SOURCE, 'kv_cache_write', B! * T! * K! * Dh!, [
    cuda.pointer(cache!), u.x, u.x16, cuda.pointer(rows!), cuda.pointer(positions!), cos ? cuda.pointer(cos) : 0n, sin ? cuda.pointer(sin) : 0n,
    { i32: B! }, { i32: T! }, { i32: K! }, { i32: cache!.shape[2]! }, { i32: Dh! },
  ]);
  cuda.written(cache!);
  return [];
};

/** inputs {q [B, T, H, Dh], keys, values [R, K, C, Dh], rows [B], positions [B, T], cos, sin}; attrs {scale}: [B, T, H, Dh]. */
const attend: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { q, keys, values, rows, positions, cos, sin } = inputs as Record<string, tf.TensorInfo>;
  const [B, T, H, Dh] = q!.shape as number[];
  const [, K, C] = keys!.shape as number[];
  if (Dh! > ATTEND_THREADS) throw new Error(`cuda backend: cached attention takes heads of up to ${ATTEND_THREADS} channels, got ${Dh}`);
  const cuda = backend as CudaBackend;
  const out = cuda.allocate([B!, T!, H!, Dh!], 'float32');
  const query = loadFrom(cuda, q!);
  cuda.launch(KV_CACHE_SOURCE, 'kv_cache_attend', B! * T! * H!, ATTEND_THREADS, [
    cuda.pointer(out), query.x, query.x16, cuda.pointer(keys!), cuda.pointer(values!), cuda.pointer(rows!), cuda.pointer(positions!),
    cuda.pointer(cos!), cuda.pointer(sin!), { i32: T! }, { i32: H! }, { i32: K! }, { i32: C! }, { i32: Dh! }, { f32: (attrs as { scale: number }).scale },
  ], 4 * (Dh! + C! + 32 + ATTEND_THREADS));
  return out;
};

/** This family's tfjs kernels by name. */
export const KV_CACHE_KERNELS: [string, tf.KernelFunc][] = [[KV_CACHE.write, write], [KV_CACHE.attend, attend]];
