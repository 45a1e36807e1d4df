// Causal attention with rotary embeddings in the style of FlashAttention-2 (Dao 2023): the T×T scores
// never reach memory. A block of 128 queries (64 where its tiles would not fit the GPU's shared memory),
// 16 a warp, walks over the keys 64 at a time, keeping in registers its scores for one key tile, a
// running maximum m and sum l of each row's exponentials, and the output so far, rescaled whenever m
// grows ("online softmax"). The tile products run on tensor cores (mma.ts). 128 queries a block: each
// K and V tile brought in from L2 (the forward's limit, at 78%) serves twice the queries; 1.93 → 1.82 ms
// a step at 92m (H100).
//
// Layout: q [B, T, H, Dh], k and v [B, T, Hkv, Dh] as the projections produce them (no transposes);
// query head h reads K/V head h / (H / Hkv). RoPE is the TinyRope kernel's pass over q and k before
// (rotated copies, in bf16 rounded to bfloat16; v and dO read the bfloat16 copies the backend keeps),
// and its inverse over the gradients after: in the backward kernel's last step for dK, in a pass over
// dQ (summed with atomics). So every tile arrives in the type the products read: cp.async copies the
// next tile into shared memory while the warps work on the current one (two buffers), and fragments
// are read with ldmatrix in bf16 (mma.ts). Saved for the backward pass, in the output's tail: lse
// [B, H, T], each row's log-sum-exp in base 2 of the scaled scores, and the rotated q and k.
//
// Backward, one block per 128 keys (and K/V head; 64 where the tiles would not fit the GPU's shared
// memory), 16 a warp: for every later query tile it recomputes the probabilities P from q, k and lse,
// then dV += Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP − Δ) with Δ = rowsum(dO∘O) (its pass also writes dO's
// bfloat16 copy), dK += dSᵀ·Q in registers, and dQ += dS·K added to memory with atomics (other key
// blocks add to the same rows), two neighbouring values an atomic where the GPU has vector reductions
// (sm_90; with dSᵀ stored two values at a time: 6.76 → 5.71 ms a step at 92m on an H100). 128 keys a
// block: each query tile brought in serves twice the keys, and dQ's atomics are half as many. At Dh =
// 64, two such blocks an SM (launch bounds: 128 registers a thread, a few spilled) beat one with no
// spills: 6.74 against 7.37 ms a step (64 keys: 7.02); where two do not fit (KBLOCKS), one. Keeping
// P as its bf16 fragments once exponentiated (dS takes P as rounded) brought its spills from 148 to 80
// bytes: 5.67 → 5.50 ms a step at 92m. The forward keeps one 16-row group of queries a warp: two (each
// key and value fragment serving two products) took 233 registers, two blocks an SM instead of four,
// and 2.11 → 2.29 ms (2.72 bound to three blocks an SM, spilling).
// The output and the gradients go out as the projections' products read them: the output, dK and dV
// (and dQ after its pass) as bfloat16 only, in bf16 (the output's tail in an allocation of its own).
// The output's float32 values had no reader: without them the forward went 2.17 → 1.93 ms a step at 92m
// and a step's peak memory 11.66 → 11.16 GB (440m: 26.5 → 25.0).
import * as tf from '@tensorflow/tfjs';
import { FUSED, fusedAttentionHeadDim, gradOf } from '../../../model/fused.js';
import type { CudaBackend } from '../backend.js';
import { launchRope } from './fused-layers.js';
import { EXP2_SOURCE } from './exp2.js';
import { filled } from './layout.js';
import { allocateProductInput, BF16_BITS, bf16CopyOf, loadFrom, operand, storeTo } from './bf16.js';
import { MMA_PRECISION, MMA_SOURCE, mmaElemBytes } from './mma.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Elements that pad each shared-memory row by 16 bytes (PAD in the source). */
const padElements = (precision: number) => 16 / mmaElemBytes(precision);

/** Rows of a tile of queries or keys as it is staged into shared memory (a warp takes 16). */
const TILE = 64;

const source = (headDim: number, precision: number, blocks: Blocks) => `#define PRECISION ${precision}
#define HD ${headDim}
${BF16_BITS}${MMA_SOURCE}${EXP2_SOURCE}
#define TILE ${TILE}
#define QTILE ${blocks.queries}  // queries a forward block takes (16 a warp)
#define KTILE ${blocks.keys}  // keys a backward block takes (16 a warp)
#define KBLOCKS ${blocks.keyBlocks}  // backward blocks an SM runs at once, which its launch bounds promise
#define NT (HD / 8)       // 8-wide column tiles across a head
#define KC (HD / 16)      // 16-deep chunks across a head
#define PAD ${padElements(precision)}  // shared-memory rows padded by 16 bytes: a fragment's rows fall on different banks
#define STRIDE (HD + PAD)
#define SSTRIDE (TILE + PAD)
#define NQ (NT * TILE / KTILE)  // 8-wide column tiles of dQ a backward warp takes
#define NEG_INF __int_as_float(0xff800000)
#define POS_INF __int_as_float(0x7f800000)

// Asynchronous 16-byte copies from memory to shared memory (sm_80+); bytes = 0 writes zeros.
__device__ __forceinline__ void copy16(void* dst, const void* src, int bytes) {
  unsigned s = (unsigned)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(s), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void copies_commit() { asm volatile("cp.async.commit_group;"); }
template <int N> __device__ __forceinline__ void copies_wait() { asm volatile("cp.async.wait_group %0;" :: "n"(N)); }

// Two neighbouring values (the first at an even column) into a shared-memory tile in one store.
__device__ __forceinline__ void store_pair(Elem* p, float a, float b) {
#if PRECISION == 2
  *(unsigned*)p = bf16_pair(a, b);
#else
  *(float2*)p = make_float2(a, b);
#endif
}
// Two neighbouring float32 values (8-byte aligned) added to memory atomically: one vector reduction
// where the GPU has it (sm_90), which halves the atomic operations dQ's sums take.
__device__ __forceinline__ void add_pair(float* p, float a, float b) {
#if __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v2.f32 [%0], {%1, %2};" :: "l"(p), "f"(a), "f"(b) : "memory");
#else
  atomicAdd(p, a);
  atomicAdd(p + 1, b);
#endif
}

// Start copying a 64-row tile of rows [B, T, heads, HD] (already Elem: bfloat16 in bf16) into a
// shared-memory tile [64][STRIDE] with cp.async, which the warps do not wait for; rows past T become
// zeros.
#define CHUNKS (HD * (int)sizeof(Elem) / 16)  // 16-byte pieces of a row
__device__ void stage_tile(Elem* dst, const Elem* src, int b, int T, int heads, int head, int row0) {
  for (int i = threadIdx.x; i < TILE * CHUNKS; i += blockDim.x) {
    int r = i / CHUNKS, c = (i % CHUNKS) * (16 / (int)sizeof(Elem)), pos = row0 + r;
    const Elem* p = pos < T ? src + (((long long)b * T + pos) * heads + head) * HD + c : src;
    copy16(dst + r * STRIDE + c, p, pos < T ? 16 : 0);
  }
}

// One warp's tile products (fragments and loads from mma.ts; shared-memory tiles have rows of STRIDE).
template <int N> __device__ __forceinline__ void zero_tiles(float (&c)[N][4]) {
#pragma unroll
  for (int j = 0; j < N; j++)
#pragma unroll
    for (int i = 0; i < 4; i++) c[j][i] = 0.0f;
}
// c[16 × 64] = A·Bᵀ over a head: A's 16 rows at a, B's 64 rows at b (K·Qᵀ, V·dOᵀ).
__device__ __forceinline__ void rows_times_rows(float (&c)[TILE / 8][4], const Elem* a, const Elem* b) {
  zero_tiles(c);
#pragma unroll
  for (int k = 0; k < KC; k++) {
    FragA fa = load_a(a + 16 * k, STRIDE);
#pragma unroll
    for (int j = 0; j < TILE / 8; j++) mma(c[j], fa, load_b_t(b + 8 * j * STRIDE + 16 * k, STRIDE));
  }
}
// P [16 × 64] in registers as C tiles → the A fragments of its four 16-key chunks (two C tiles each):
// the values the products read (bfloat16 in bf16, which takes half the registers of the floats).
__device__ __forceinline__ void as_fragments(FragA (&pa)[TILE / 16], float (&p)[TILE / 8][4]) {
#pragma unroll
  for (int k = 0; k < TILE / 16; k++) pa[k] = frag_a(&p[2 * k][0]);
}
// P's value i of C tile j, from its fragments (as rounded there).
__device__ __forceinline__ float fragment_value(const FragA (&pa)[TILE / 16], int j, int i) { return frag_value(pa[j >> 1], 4 * (j & 1) + i); }
// c[16 × HD] += P·B: P [16 × 64] as A fragments, B's 64 rows at b (P·V, Pᵀ·dO, dSᵀ·Q).
__device__ __forceinline__ void add_tiles_times(float (&c)[NT][4], const FragA (&pa)[TILE / 16], const Elem* b) {
#pragma unroll
  for (int k = 0; k < TILE / 16; k++)
#pragma unroll
    for (int j = 0; j < NT; j++) mma(c[j], pa[k], load_b(b + 16 * k * STRIDE + 8 * j, STRIDE));
}

// The order blocks go out in (a grid of tiles × heads blocks, one dimension). Under the causal mask the
// block of a head's last queries (forward) or first keys (backward) has T / 128 times the work of the
// block at the other end, and blocks start in order: the longest go first, so that the last wave is of
// short ones, not a long one started late with the GPU idle around it. By groups of \`together\` heads
// (one wave of blocks), every head's tile 0 (the most work), then every head's tile 1, …: the heads in
// flight stay few, and their tiles stay in L2 for all their blocks. A head at a time, as before, left
// the longest block of the last heads to the end (at 92m, with P's fragments below: backward 5.50 →
// 5.34 ms a step, forward 1.93 → 1.86). This block's tile (0: the most work) and head (batch × heads + head):
__device__ __forceinline__ void longest_first(int tiles, int together, int& tile, int& head) {
  int heads = gridDim.x / tiles, first = blockIdx.x / (together * tiles) * together;
  int r = blockIdx.x - first * tiles, n = min(together, heads - first);
  tile = r / n;
  head = first + r % n;
}

extern "C" __global__ void __launch_bounds__(2 * QTILE) flash_forward(float* out, unsigned short* out16, float* lse, const Elem* q, const Elem* k, const Elem* v,
    int T, int H, int KVH, float scale_log2, int together) {
  extern __shared__ __align__(16) unsigned char shared[];
  Elem* qs = (Elem*)shared;         // this block's queries [QTILE][STRIDE]
  Elem* kvs = qs + QTILE * STRIDE;  // K and V tiles, two of each: [2 buffers][K, V][64][STRIDE]
  int warp = threadIdx.x >> 5;
  int tiles = (T + QTILE - 1) / QTILE, tile, bh;
  longest_first(tiles, together, tile, bh);
  int qtile = tiles - 1 - tile;  // the last rows see the most keys
  int b = bh / H, h = bh % H, hk = h / (H / KVH);
  int q0 = qtile * QTILE + warp * 16;      // this warp's first query
  int last = (qtile + 1) * (QTILE / TILE) - 1;  // the last key tile a query of the block sees

  for (int r = 0; r < QTILE; r += TILE) stage_tile(qs + r * STRIDE, q, b, T, H, h, qtile * QTILE + r);
  stage_tile(kvs, k, b, T, KVH, hk, 0);
  stage_tile(kvs + TILE * STRIDE, v, b, T, KVH, hk, 0);
  copies_commit();

  FragA qa[KC];  // this warp's 16 queries as A fragments, read once the tile has arrived
  float o[NT][4], m[2] = {NEG_INF, NEG_INF}, l[2] = {0.0f, 0.0f};
  zero_tiles(o);

  for (int kt = 0; kt <= last; kt++) {
    int k0 = kt * TILE;
    const Elem* ks = kvs + (kt & 1) * 2 * TILE * STRIDE;
    const Elem* vs = ks + TILE * STRIDE;
    __syncthreads();  // every warp is done with the other buffer (tile kt − 1)
    if (kt < last) {  // the next tile arrives while this one is used
      Elem* next = kvs + ((kt + 1) & 1) * 2 * TILE * STRIDE;
      stage_tile(next, k, b, T, KVH, hk, k0 + TILE);
      stage_tile(next + TILE * STRIDE, v, b, T, KVH, hk, k0 + TILE);
      copies_commit();
      copies_wait<1>();
    } else {
      copies_wait<0>();
    }
    __syncthreads();  // tile kt (and at first the queries) has arrived for every thread
    if (kt == 0) {
#pragma unroll
      for (int c = 0; c < KC; c++) qa[c] = load_a(qs + warp * 16 * STRIDE + 16 * c, STRIDE);
    }
    if (k0 > q0 + 15) continue;  // every key of the tile comes after this warp's queries

    // Scores of 16 queries × 64 keys (unscaled: the scale 1/√Dh·log2(e), so that exp2 gives e^score,
    // goes into the exponentials' multiply-add).
    float s[TILE / 8][4];
    zero_tiles(s);
#pragma unroll
    for (int j = 0; j < TILE / 8; j++)
#pragma unroll
      for (int c = 0; c < KC; c++) mma(s[j], qa[c], load_b_t(ks + 8 * j * STRIDE + 16 * c, STRIDE));
    if (k0 + TILE - 1 > q0) {  // a tile on the diagonal: a query sees keys up to itself (this also hides keys past T)
#pragma unroll
      for (int j = 0; j < TILE / 8; j++)
#pragma unroll
        for (int i = 0; i < 4; i++) if (k0 + 8 * j + c_col(i) > q0 + c_row(i)) s[j][i] = NEG_INF;
    }
    // Online softmax for rows g (i = 0, 1) and g + 8 (i = 2, 3); a row's 64 scores are spread over the
    // 4 lanes of a quad, so maxima are combined with two shuffles. m is in scaled units.
#pragma unroll
    for (int r = 0; r < 2; r++) {
      float mx = NEG_INF;
#pragma unroll
      for (int j = 0; j < TILE / 8; j++) mx = fmaxf(mx, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      float mnew = fmaxf(m[r], mx * scale_log2);  // finite: every row sees key 0 in the first tile
      float corr = exp2_fast(m[r] - mnew);
      m[r] = mnew;
      l[r] *= corr;
#pragma unroll
      for (int j = 0; j < NT; j++) { o[j][2 * r] *= corr; o[j][2 * r + 1] *= corr; }
#pragma unroll
      for (int j = 0; j < TILE / 8; j++)
#pragma unroll
        for (int e = 2 * r; e < 2 * r + 2; e++) { s[j][e] = exp2_fast(fmaf(s[j][e], scale_log2, -mnew)); l[r] += s[j][e]; }
    }
    // o += P·V: the probabilities are already laid out as A fragments (two C tiles per 16 keys).
    FragA pa[TILE / 16];
    as_fragments(pa, s);
    add_tiles_times(o, pa, vs);
  }

#pragma unroll
  for (int r = 0; r < 2; r++) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
#pragma unroll
  for (int j = 0; j < NT; j++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      int pos = q0 + c_row(i);
      long long at = (((long long)b * T + pos) * H + h) * HD + 8 * j + c_col(i);
      if (pos < T) store(out, out16, at, o[j][i] / l[i >> 1]);
    }
  if (lane_t() == 0) {
#pragma unroll
    for (int r = 0; r < 2; r++) {
      int pos = q0 + lane_g() + 8 * r;
      if (pos < T) lse[(long long)bh * T + pos] = m[r] + log2f(l[r]);
    }
  }
}

// Δ = rowsum(dO∘O) per query and head, 16 lanes per row of [B, T, H] (4 neighbouring values each, HD
// being a multiple of 16: one wide access), so a warp takes two rows; written as [B, H, T]. dO and O are
// read with load() (O from its bfloat16 copy in bf16, as the tiles are); when dO has float32 values and
// dout_copy is not null, its bfloat16 copy (the backward's tiles) is written on the way.
extern "C" __global__ void flash_delta(float* delta, unsigned short* dout_copy, const float* dout, const unsigned short* dout16,
    const float* out, const unsigned short* out16, int T, int H, long long rows) {
  long long row = ((long long)blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5)) * 2 + ((threadIdx.x >> 4) & 1);
  int lane = threadIdx.x & 15;
  float s = 0.0f;
  if (row < rows) {
    for (int d = 4 * lane; d < HD; d += 64) {
      float g[4], o[4];
      load_n(dout, dout16, row * HD + d, 4, g);
      load_n(out, out16, row * HD + d, 4, o);
      for (int i = 0; i < 4; i++) s += g[i] * o[i];
      if (dout_copy) store_n(nullptr, dout_copy, row * HD + d, 4, g);
    }
  }
  for (int o = 8; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);  // within each half-warp: its row
  if (row >= rows || lane != 0) return;
  long long bt = row / H;
  int h = row % H, t = bt % T;
  delta[((bt / T) * H + h) * T + t] = s;
}

extern "C" __global__ void __launch_bounds__(2 * KTILE, KBLOCKS) flash_backward(float* dq, float* dk, unsigned short* dk16, float* dv, unsigned short* dv16,
    const Elem* q, const Elem* k, const Elem* v, const Elem* dout, const float* lse, const float* delta, const float* cos_t, const float* sin_t,
    int T, int H, int KVH, float scale_log2, float scale, int together) {
  extern __shared__ __align__(16) unsigned char shared[];
  Elem* ks = (Elem*)shared;             // this block's keys   [KTILE][STRIDE]
  Elem* vs = ks + KTILE * STRIDE;       // its values
  Elem* qdos = vs + KTILE * STRIDE;     // a tile of queries and their output gradients, two of each: [2 buffers][Q, dO][64][STRIDE]
  Elem* dss = qdos + 4 * TILE * STRIDE;  // dSᵀ of the tile pair       [KTILE keys][SSTRIDE]
  float* lse_s = (float*)(dss + KTILE * SSTRIDE);
  float* delta_s = lse_s + TILE;
  int warp = threadIdx.x >> 5;
  int ktile, bh;
  longest_first((T + KTILE - 1) / KTILE, together, ktile, bh);  // (the first keys see the most queries)
  int b = bh / KVH, hk = bh % KVH, group = H / KVH;
  int k0 = ktile * KTILE, kw = warp * 16;  // this warp's keys: k0 + kw … +15
  for (int r = 0; r < KTILE; r += TILE) {
    stage_tile(ks + r * STRIDE, k, b, T, KVH, hk, k0 + r);
    stage_tile(vs + r * STRIDE, v, b, T, KVH, hk, k0 + r);
  }

  float dka[NT][4], dva[NT][4];
  zero_tiles(dka);
  zero_tiles(dva);

  // The query tiles at or after these keys, for each query head that shares them: n = 0 … pairs − 1 is
  // head hk·group + n / tiles, query tile first + n % tiles. Each pair's tiles are staged into buffer
  // n % 2 (and its rows' lse and Δ read into registers: thread i < 64 holds row i) while the one before
  // is worked on. (A warp whose keys all come after a tile's queries computes zeros for it.)
  int first = k0 / TILE, tiles = (T + TILE - 1) / TILE - first, pairs = group * tiles;
  float next_lse = 0.0f, next_delta = 0.0f;
  auto stage_pair = [&](int n) {
    int h = hk * group + n / tiles, q0 = (first + n % tiles) * TILE;
    Elem* to = qdos + (n & 1) * 2 * TILE * STRIDE;
    stage_tile(to, q, b, T, H, h, q0);
    stage_tile(to + TILE * STRIDE, dout, b, T, H, h, q0);
    copies_commit();
    int pos = q0 + threadIdx.x;  // rows past T: probability exp2(−∞) = 0, so they add nothing
    if (threadIdx.x < TILE) {
      next_lse = pos < T ? lse[((long long)b * H + h) * T + pos] : POS_INF;
      next_delta = pos < T ? delta[((long long)b * H + h) * T + pos] : 0.0f;
    }
  };
  stage_pair(0);  // (in the copies' group of K and V)
  for (int n = 0; n < pairs; n++) {
    int h = hk * group + n / tiles, q0 = (first + n % tiles) * TILE;
    const Elem* qs = qdos + (n & 1) * 2 * TILE * STRIDE;
    const Elem* dos = qs + TILE * STRIDE;
    __syncthreads();  // the previous pair's products are done with its buffer, lse_s, delta_s and dss
    if (threadIdx.x < TILE) { lse_s[threadIdx.x] = next_lse; delta_s[threadIdx.x] = next_delta; }
    if (n + 1 < pairs) {
      stage_pair(n + 1);
      copies_wait<1>();
    } else {
      copies_wait<0>();
    }
    __syncthreads();  // pair n (and at first K and V) has arrived for every thread

    // Pᵀ for this warp's 16 keys × 64 queries: recomputed scores, then exp2(s − lse), 0 where the
    // query comes before the key.
    float p[TILE / 8][4];
    rows_times_rows(p, ks + kw * STRIDE, qs);
#pragma unroll
    for (int j = 0; j < TILE / 8; j++)
#pragma unroll
      for (int i = 0; i < 4; i++) {
        int key = k0 + kw + c_row(i), query = q0 + 8 * j + c_col(i);
        p[j][i] = query >= key ? exp2_fast(p[j][i] * scale_log2 - lse_s[8 * j + c_col(i)]) : 0.0f;
      }
    // Pᵀ from here on as the products read it (in bf16: bfloat16, 16 registers instead of 32, which
    // took the spills at 128 registers from 148 to 80 bytes; dS takes P as rounded, and is rounded
    // itself next).
    FragA pa[TILE / 16];
    as_fragments(pa, p);
    add_tiles_times(dva, pa, dos);  // dV += Pᵀ·dO
    // dPᵀ = V·dOᵀ, then dSᵀ = Pᵀ∘(dPᵀ − Δ), kept in ds and shared for dQ
    float ds[TILE / 8][4];
    rows_times_rows(ds, vs + kw * STRIDE, dos);
#pragma unroll
    for (int j = 0; j < TILE / 8; j++)
#pragma unroll
      for (int i = 0; i < 4; i += 2) {  // (values i and i + 1 are neighbours in a row: one store)
        ds[j][i] = fragment_value(pa, j, i) * (ds[j][i] - delta_s[8 * j + c_col(i)]);
        ds[j][i + 1] = fragment_value(pa, j, i + 1) * (ds[j][i + 1] - delta_s[8 * j + c_col(i + 1)]);
        store_pair(dss + (kw + c_row(i)) * SSTRIDE + 8 * j + c_col(i), ds[j][i], ds[j][i + 1]);
      }
    as_fragments(pa, ds);
    add_tiles_times(dka, pa, qs);  // dK += dSᵀ·Q
    __syncthreads();  // all of dSᵀ is in shared memory
    // dQ += scale·dS·K over the block's keys, with atomics: A is dSᵀ read transposed. Warp w takes the
    // 16 queries q0 + 16·(w % 4) … and, of the head's columns, the (w / 4)-th of KTILE / 64 parts.
    int qr = 16 * (warp & 3), c0 = (warp >> 2) * 8 * NQ;
    float dqa[NQ][4];
    zero_tiles(dqa);
#pragma unroll
    for (int c = 0; c < KTILE / 16; c++) {
      FragA da = load_a_t(dss + 16 * c * SSTRIDE + qr, SSTRIDE);
#pragma unroll
      for (int j = 0; j < NQ; j++) mma(dqa[j], da, load_b(ks + 16 * c * STRIDE + c0 + 8 * j, STRIDE));
    }
#pragma unroll
    for (int j = 0; j < NQ; j++)
#pragma unroll
      for (int i = 0; i < 4; i += 2) {
        int pos = q0 + qr + c_row(i);
        if (pos < T) add_pair(dq + (((long long)b * T + pos) * H + h) * HD + c0 + 8 * j + c_col(i), dqa[j][i] * scale, dqa[j][i + 1] * scale);
      }
  }
  // dK = RoPE⁻¹(scale·dSᵀ·Q): rotate-half pairs column d with d + HD/2, tiles j and j + NT/2 of the
  // same thread.
#pragma unroll
  for (int j = 0; j < NT / 2; j++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      int pos = k0 + kw + c_row(i), d = 8 * j + c_col(i);
      if (pos >= T) continue;
      long long at = (((long long)b * T + pos) * KVH + hk) * HD + d, table = (long long)pos * HD + d;
      float g1 = dka[j][i] * scale, g2 = dka[j + NT / 2][i] * scale;
      store(dk, dk16, at, g1 * cos_t[table] + g2 * sin_t[table]);
      store(dk, dk16, at + HD / 2, g2 * cos_t[table + HD / 2] - g1 * sin_t[table + HD / 2]);
      store(dv, dv16, at, dva[j][i]);
      store(dv, dv16, at + HD / 2, dva[j + NT / 2][i]);
    }
}
`;

/**
 * Block sizes: the queries a forward block takes, the keys a backward block takes, and the backward
 * blocks an SM runs at once (two where their shared memory fits twice: the launch bounds then hold a
 * thread of a 128-key block to 128 registers).
 */
export interface Blocks {
  queries: number;
  keys: number;
  keyBlocks: number;
}

/** Shared memory of the forward kernel (Q, two K and V tiles) and of the backward (K and V of `keys` rows, two Q and dO tiles, dSᵀ, lse, Δ). */
const rowBytes = (width: number, precision: number) => mmaElemBytes(precision) * (width + padElements(precision));
const forwardSharedBytes = (headDim: number, precision: number, queries: number) => (queries + 4 * TILE) * rowBytes(headDim, precision);
const backwardSharedBytes = (headDim: number, precision: number, keys: number) =>
  (2 * keys + 4 * TILE) * rowBytes(headDim, precision) + keys * rowBytes(TILE, precision) + 4 * 2 * TILE;

/**
 * The blocks for a GPU whose blocks may have `perBlock` bytes of shared memory and its SMs `perSm`: 128
 * rows a block where the tiles fit, else 64 (sharedFor() says so if even those do not fit). The defaults
 * are what every GPU since sm_86 has (99 KB a block, 100 KB an SM); an H100 (227 / 228 KB) takes 128
 * rows at Dh = 128 as well (bf16: forward 102 KB, backward 154.5 KB, one block an SM), where a block of
 * 64 had left half the warps of an SM reading their own copies of the same K/V (forward) or Q/dO
 * (backward) tiles.
 */
export function flashBlocks(headDim: number, precision: number, perBlock = 99 * 1024, perSm = 100 * 1024): Blocks {
  const rows = (bytes: (rows: number) => number) => (bytes(2 * TILE) <= perBlock ? 2 * TILE : TILE);
  const queries = rows((n) => forwardSharedBytes(headDim, precision, n));
  const keys = rows((n) => backwardSharedBytes(headDim, precision, n));
  const keyBlocks = perSm >= 2 * (backwardSharedBytes(headDim, precision, keys) + 1024) ? 2 : 1; // (an SM keeps 1 KB for each block)
  return { queries, keys, keyBlocks };
}

const sources = new Map<string, string>();
/** The kernels' source for one head size, precision and block sizes (built once). */
export function flashSource(headDim: number, precision: number, blocks = flashBlocks(headDim, precision)): string {
  const key = `${headDim}/${precision}/${blocks.queries}/${blocks.keys}/${blocks.keyBlocks}`;
  if (!sources.has(key)) sources.set(key, source(headDim, precision, blocks));
  return sources.get(key)!;
}

/** The blocks on this backend's GPU. */
export const flashBlocksOn = (cuda: CudaBackend, headDim: number, precision: number): Blocks =>
  flashBlocks(headDim, precision, cuda.sharedPerBlock, cuda.sharedPerMultiprocessor);

/** `bytes` of shared memory a block of `kernel` needs, when this GPU gives a block that much (else a clear error, not the driver's). */
function sharedFor(cuda: CudaBackend, kernel: string, headDim: number, bytes: number): number {
  if (bytes > cuda.sharedPerBlock) {
    throw new Error(`cuda backend: ${kernel} with heads of ${headDim} and ${cuda.matmulPrecision} products needs ${bytes} bytes of shared memory a block; ${cuda.deviceName} gives ${cuda.sharedPerBlock}`);
  }
  return bytes;
}

/**
 * longest_first's `together` for a kernel's grid of `tiles` blocks a head: as many heads as make one wave
 * of the blocks the GPU runs at once (at least one).
 */
function headsTogether(cuda: CudaBackend, source: string, kernel: string, tiles: number, threads: number, sharedBytes: number): number {
  return Math.max(1, Math.round(cuda.blocksAWave(source, kernel, threads, sharedBytes) / tiles));
}

interface AttentionInputs {
  q: tf.TensorInfo; // [B, T, H, Dh]
  k: tf.TensorInfo; // [B, T, Hkv, Dh]
  v: tf.TensorInfo;
  cos: tf.TensorInfo; // [maxSeq, Dh]
  sin: tf.TensorInfo;
}

function shapes({ q, k, cos }: AttentionInputs): { B: number; T: number; H: number; KVH: number; Dh: number } {
  const [B, T, H, Dh] = q.shape as [number, number, number, number];
  const KVH = k.shape[2]!;
  if (!fusedAttentionHeadDim(Dh)) throw new Error(`cuda backend: fused attention takes head sizes that are multiples of 16 up to 128, got ${Dh}`);
  if (H % KVH !== 0) throw new Error(`cuda backend: fused attention: ${H} query heads do not share ${KVH} K/V heads evenly`);
  if (T > cos.shape[0]!) throw new Error(`cuda backend: fused attention: ${T} positions exceed the RoPE tables' ${cos.shape[0]}`);
  return { B, T, H, KVH, Dh };
}

/** RoPE over [B, T, heads, Dh] at x (loadFrom's pair) into out and/or out16 (bfloat16); sign −1 turns back (the gradient). */
function rope(cuda: CudaBackend, out: { out: bigint; out16: bigint }, x: { x: bigint; x16: bigint }, inputs: AttentionInputs, heads: number, sign: number): void {
  const [, T, , Dh] = inputs.q.shape as [number, number, number, number];
  const n = inputs.q.shape[0]! * T * heads * Dh;
  launchRope(cuda, out, x, { cos: cuda.pointer(inputs.cos), sin: cuda.pointer(inputs.sin) }, { T, Dh, group: heads, offset: 0, sign, n });
}

/** Byte offsets in the forward output's tail: lse [B, H, T] float32, then q and k rotated, in the tiles' type. */
function tailLayout({ q, k }: AttentionInputs, precision: number): { q: number; k: number; bytes: number } {
  const [B, T, H] = q.shape as [number, number, number];
  const aligned = (bytes: number) => Math.ceil(bytes / 256) * 256; // cp.async reads 16-byte pieces
  const [qAt, qBytes] = [aligned(B * H * T * 4), tf.util.sizeFromShape(q.shape) * mmaElemBytes(precision)];
  const kAt = aligned(qAt + qBytes);
  return { q: qAt, k: kAt, bytes: kAt + tf.util.sizeFromShape(k.shape) * mmaElemBytes(precision) };
}

const attention: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const x = inputs as unknown as AttentionInputs;
  const cuda = backend as CudaBackend;
  const { B, T, H, KVH, Dh } = shapes(x);
  const precision = MMA_PRECISION[cuda.matmulPrecision];
  const bf16 = precision === MMA_PRECISION.bf16;
  const layout = tailLayout(x, precision);
  // Read by the output projection's products and the backward's Δ pass (load()): kept as bfloat16 only in bf16.
  const out = allocateProductInput(cuda, x.q.shape, layout.bytes);
  if (B * T * H === 0) return out;
  const tail = cuda.tail(out).ptr;
  const [q, k] = [tail + BigInt(layout.q), tail + BigInt(layout.k)];
  // q and k rotated into the tail, in the tiles' type; v's tiles are its kept bfloat16 copy (or its data).
  const inTileType = (p: bigint) => (bf16 ? { out: 0n, out16: p } : { out: p, out16: 0n });
  rope(cuda, inTileType(q), loadFrom(cuda, x.q), x, H, 1);
  rope(cuda, inTileType(k), loadFrom(cuda, x.k), x, KVH, 1);
  const blocks = flashBlocksOn(cuda, Dh, precision);
  const [src, queries] = [flashSource(Dh, precision, blocks), blocks.queries];
  const sharedBytes = sharedFor(cuda, 'flash_forward', Dh, forwardSharedBytes(Dh, precision, queries));
  const o = storeTo(cuda, out);
  const tiles = Math.ceil(T / queries);
  cuda.launch(src, 'flash_forward', tiles * B * H, 2 * queries, [
    o.out, o.out16, tail, q, k, operand(cuda, x.v, bf16), { i32: T }, { i32: H }, { i32: KVH }, { f32: Math.LOG2E / Math.sqrt(Dh) },
    { i32: headsTogether(cuda, src, 'flash_forward', tiles, 2 * queries, sharedBytes) },
  ], sharedBytes);
  return out;
};

/** inputs {dy, v, cos, sin, out} → [dq, dk, dv]: q and k themselves are not needed (their rotated copies are in out's tail). */
const attentionGrad: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const given = inputs as unknown as Omit<AttentionInputs, 'q' | 'k'> & { dy: tf.TensorInfo; out: tf.TensorInfo };
  const x = { ...given, q: given.dy, k: given.v }; // (for their shapes: q's is dy's, k's is v's)
  const cuda = backend as CudaBackend;
  const { B, T, H, KVH, Dh } = shapes(x);
  // Read by the projections' gradient alone: kept as bfloat16 only when products run in bf16.
  const [dq, dk, dv] = [x.q, x.k, x.v].map((t) => allocateProductInput(cuda, t.shape)) as [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo];
  if (B * T * H === 0) return [dq, dk, dv];
  const precision = MMA_PRECISION[cuda.matmulPrecision];
  const bf16 = precision === MMA_PRECISION.bf16;
  const layout = tailLayout(x, precision);
  const { ptr: tail, bytes } = cuda.tail(x.out);
  if (bytes !== layout.bytes) throw new Error(`cuda backend: fused attention's gradient ${bf16 ? 'with' : 'without'} bf16 products, its forward pass the other way`);
  const blocks = flashBlocksOn(cuda, Dh, precision);
  const src = flashSource(Dh, precision, blocks);
  const rows = B * T * H;
  const delta = cuda.allocate([B, H, T], 'float32'); // (its pass: 8 warps a block, two rows a warp)
  const dy16 = bf16 && !cuda.hasBf16(x.dy) ? bf16CopyOf(cuda, x.dy) : 0n; // written by the Δ pass
  const [dy, out] = [loadFrom(cuda, x.dy), bf16 ? { x: 0n, x16: operand(cuda, x.out, true) } : loadFrom(cuda, x.out)];
  cuda.launch(src, 'flash_delta', Math.ceil(rows / 16), 256, [cuda.pointer(delta), dy16, dy.x, dy.x16, out.x, out.x16, { i32: T }, { i32: H }, BigInt(rows)]);
  const dqRotated = filled(cuda, x.q.shape, 'float32', 0); // dQ before the inverse rotation, summed over key blocks with atomics
  const [k, v] = [storeTo(cuda, dk), storeTo(cuda, dv)];
  const keys = blocks.keys;
  const sharedBytes = sharedFor(cuda, 'flash_backward', Dh, backwardSharedBytes(Dh, precision, keys));
  const tiles = Math.ceil(T / keys);
  cuda.launch(src, 'flash_backward', tiles * B * KVH, 2 * keys, [
    cuda.pointer(dqRotated), k.out, k.out16, v.out, v.out16, tail + BigInt(layout.q), tail + BigInt(layout.k), operand(cuda, x.v, bf16), operand(cuda, x.dy, bf16),
    tail, cuda.pointer(delta), cuda.pointer(x.cos), cuda.pointer(x.sin), { i32: T }, { i32: H }, { i32: KVH }, { f32: Math.LOG2E / Math.sqrt(Dh) }, { f32: 1 / Math.sqrt(Dh) },
    { i32: headsTogether(cuda, src, 'flash_backward', tiles, 2 * keys, sharedBytes) },
  ], sharedBytes);
  rope(cuda, storeTo(cuda, dq), loadFrom(cuda, dqRotated), x, H, -1);
  [delta, dqRotated].forEach((t) => cuda.disposeData(t.dataId));
  return [dq, dk, dv];
};

/** This family's tfjs kernels by name. */
export const FLASH_ATTENTION_KERNELS: [string, tf.KernelFunc][] = [[FUSED.attention, attention], [gradOf(FUSED.attention), attentionGrad]];
