// The KV cache's kernels (lib/model/kv-cache.ts) on the GPU. Both read the cache rows and positions
// from device memory, not from kernel arguments, so the same launches serve every decoding step:
// - kv_cache_write: one thread per value of the step's keys (or values), into its slot, in place;
// - kv_cache_attend: one block per (row, head, query): scores over the row's slots up to the query's
//   position in shared memory, softmax, then the weighted sum of the values — one pass each.
import * as tf from '@tensorflow/tfjs';
import { KV_CACHE } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Threads of an attend block: the slots are shared out among them, then the head's channels. */
const ATTEND_THREADS = 128;

export const KV_CACHE_SOURCE = `
// cache [R, K, C, Dh][rows[b], k, positions[b, t], d] = update [B, K, T, Dh][b, k, t, d]
extern "C" __global__ void kv_cache_write(float* cache, const float* update, const int* rows, const int* positions,
    int B, int K, int T, int C, int Dh) {
  long long n = (long long)B * K * T * Dh;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    int d = (int)(i % Dh), t = (int)(i / Dh % T), k = (int)(i / ((long long)Dh * T) % K), b = (int)(i / ((long long)Dh * T * K));
    cache[(((long long)rows[b] * K + k) * C + positions[b * T + t]) * Dh + d] = update[i];
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

// out [B, H, T, Dh]: block (b·H + h)·T + t; query head h reads K/V head h / (H / K) of cache row rows[b].
// Dynamic shared memory: one score per slot (C floats), then 32 floats for the reductions.
extern "C" __global__ void kv_cache_attend(float* out, const float* q, const float* keys, const float* values,
    const int* rows, const int* positions, int H, int K, int T, int C, int Dh, float scale) {
  extern __shared__ float shared[];
  float* scores = shared;
  float* scratch = shared + C;
  int t = blockIdx.x % T, h = (blockIdx.x / T) % H, b = blockIdx.x / (T * H);
  int last = positions[b * T + t];
  const float* query = q + (long long)blockIdx.x * Dh;
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
  for (int d = threadIdx.x; d < Dh; d += blockDim.x) {
    float acc = 0.0f;
    for (int s = 0; s <= last; s++) acc += scores[s] * values[base + (long long)s * Dh + d];
    out[(long long)blockIdx.x * Dh + d] = acc / sum;
  }
}
`;

/** inputs {cache [R, K, C, Dh], update [B, K, T, Dh], rows [B], positions [B, T]}: writes in place, returns nothing. */
const write: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { cache, update, rows, positions } = inputs as Record<string, tf.TensorInfo>;
  const [B, K, T, Dh] = update!.shape as number[];
  const cuda = backend as CudaBackend;
  cuda.launchElementwise(KV_CACHE_SOURCE, 'kv_cache_write', B! * K! * T! * Dh!, [
    cuda.pointer(cache!), cuda.pointer(update!), cuda.pointer(rows!), cuda.pointer(positions!),
    { i32: B! }, { i32: K! }, { i32: T! }, { i32: cache!.shape[2]! }, { i32: Dh! },
  ]);
  return [];
};

/** inputs {q [B, H, T, Dh], keys, values [R, K, C, Dh], rows [B], positions [B, T]}; attrs {scale}: [B, H, T, Dh]. */
const attend: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { q, keys, values, rows, positions } = inputs as Record<string, tf.TensorInfo>;
  const [B, H, T, Dh] = q!.shape as number[];
  const [, K, C] = keys!.shape as number[];
  const cuda = backend as CudaBackend;
  const out = cuda.allocate([B!, H!, T!, Dh!], 'float32');
  cuda.launch(KV_CACHE_SOURCE, 'kv_cache_attend', B! * H! * T!, ATTEND_THREADS, [
    cuda.pointer(out), cuda.pointer(q!), cuda.pointer(keys!), cuda.pointer(values!), cuda.pointer(rows!), cuda.pointer(positions!),
    { i32: H! }, { i32: K! }, { i32: T! }, { i32: C! }, { i32: Dh! }, { f32: (attrs as { scale: number }).scale },
  ], 4 * (C! + 32));
  return out;
};

/** This family's tfjs kernels by name. */
export const KV_CACHE_KERNELS: [string, tf.KernelFunc][] = [[KV_CACHE.write, write], [KV_CACHE.attend, attend]];
