// Tensor-core tile products for hand-written kernels (flash attention): one warp computes
// C[16×8] += A[16×16] · B[16×8] with mma.sync, in the precision the backend's matmuls use.
//
// Fragments. Lane l of the warp has g = l / 4 and t = l % 4. It holds
//   A: 8 values, rows g and g+8, columns k ∈ {2t, 2t+1, 2t+8, 2t+9}   (value i: row g + 8·bit1(i), k = 2t + bit0(i) + 8·bit2(i))
//   B: 4 values, column g,       rows    k ∈ {2t, 2t+1, 2t+8, 2t+9}   (value i: k = 2t + bit0(i) + 8·bit1(i))
//   C: 4 values, rows g and g+8, columns 2t, 2t+1                    (value i: row g + 8·bit1(i), column 2t + bit0(i))
// This is the bf16 m16n8k16 layout. Two C tiles side by side (columns 0–7 and 8–15) hold exactly the A
// values of a 16×16 tile, so a product's result feeds the next product without leaving registers.
// TF32 (m16n8k8) sees the 16 k as two halves; the k order inside a sum does not matter, so the half
// {2t, 2t+8} goes to one mma and {2t+1, 2t+9} to the other: the same values, the same loads.
//
// PRECISION: 2 = bf16 inputs, 1 = TF32, 0 = float32 accuracy from three TF32 products (split each
// value into a TF32 part and its TF32 remainder; big·big + big·small + small·big loses ~2⁻²²).
// Sums are float32 throughout.

import type { MatmulPrecision } from '../ffi/cublas.js';

/** The PRECISION macro value for a matmul precision. */
export const MMA_PRECISION: Record<MatmulPrecision, number> = { fp32: 0, tf32: 1, bf16: 2 };

export const MMA_SOURCE = `
__device__ __forceinline__ unsigned to_tf32(float x) { unsigned r; asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x)); return r; }
__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) { unsigned r; asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo)); return r; }
__device__ __forceinline__ void mma_tf32(float* c, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
    : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
// The two k-halves of a 16-deep product, as described above.
__device__ __forceinline__ void mma_tf32_k16(float* c, const unsigned* a, const unsigned* b) {
  mma_tf32(c, a[0], a[2], a[4], a[6], b[0], b[2]);
  mma_tf32(c, a[1], a[3], a[5], a[7], b[1], b[3]);
}

#if PRECISION == 2
struct FragA { unsigned x[4]; };
struct FragB { unsigned x[2]; };
__device__ __forceinline__ FragA frag_a(const float* a) { FragA f; for (int i = 0; i < 4; i++) f.x[i] = pack_bf16(a[2 * i], a[2 * i + 1]); return f; }
__device__ __forceinline__ FragB frag_b(const float* b) { FragB f; f.x[0] = pack_bf16(b[0], b[1]); f.x[1] = pack_bf16(b[2], b[3]); return f; }
__device__ __forceinline__ void mma(float* c, const FragA& a, const FragB& b) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
    : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a.x[0]), "r"(a.x[1]), "r"(a.x[2]), "r"(a.x[3]), "r"(b.x[0]), "r"(b.x[1]));
}
#elif PRECISION == 1
struct FragA { unsigned x[8]; };
struct FragB { unsigned x[4]; };
__device__ __forceinline__ FragA frag_a(const float* a) { FragA f; for (int i = 0; i < 8; i++) f.x[i] = to_tf32(a[i]); return f; }
__device__ __forceinline__ FragB frag_b(const float* b) { FragB f; for (int i = 0; i < 4; i++) f.x[i] = to_tf32(b[i]); return f; }
__device__ __forceinline__ void mma(float* c, const FragA& a, const FragB& b) { mma_tf32_k16(c, a.x, b.x); }
#else
struct FragA { unsigned big[8], small[8]; };
struct FragB { unsigned big[4], small[4]; };
__device__ __forceinline__ FragA frag_a(const float* a) {
  FragA f;
  for (int i = 0; i < 8; i++) { f.big[i] = to_tf32(a[i]); f.small[i] = to_tf32(a[i] - __uint_as_float(f.big[i])); }
  return f;
}
__device__ __forceinline__ FragB frag_b(const float* b) {
  FragB f;
  for (int i = 0; i < 4; i++) { f.big[i] = to_tf32(b[i]); f.small[i] = to_tf32(b[i] - __uint_as_float(f.big[i])); }
  return f;
}
__device__ __forceinline__ void mma(float* c, const FragA& a, const FragB& b) {
  mma_tf32_k16(c, a.small, b.big);  // small terms first: they are added before the big one swamps them
  mma_tf32_k16(c, a.big, b.small);
  mma_tf32_k16(c, a.big, b.big);
}
#endif

// Fragment values from shared memory. A tile starts at p; stride is its row length in floats.
// "_t" reads a tile stored transposed (A as [k][row], B as [col][k]).
__device__ __forceinline__ int lane_g() { return (threadIdx.x & 31) >> 2; }
__device__ __forceinline__ int lane_t() { return threadIdx.x & 3; }
__device__ __forceinline__ int a_row(int i) { return lane_g() + 8 * ((i >> 1) & 1); }
__device__ __forceinline__ int a_k(int i) { return 2 * lane_t() + (i & 1) + 8 * (i >> 2); }
__device__ __forceinline__ int b_k(int i) { return 2 * lane_t() + (i & 1) + 8 * (i >> 1); }
__device__ __forceinline__ int c_row(int i) { return lane_g() + 8 * (i >> 1); }
__device__ __forceinline__ int c_col(int i) { return 2 * lane_t() + (i & 1); }
__device__ __forceinline__ FragA load_a(const float* p, int stride) { float v[8]; for (int i = 0; i < 8; i++) v[i] = p[a_row(i) * stride + a_k(i)]; return frag_a(v); }
__device__ __forceinline__ FragA load_a_t(const float* p, int stride) { float v[8]; for (int i = 0; i < 8; i++) v[i] = p[a_k(i) * stride + a_row(i)]; return frag_a(v); }
__device__ __forceinline__ FragB load_b(const float* p, int stride) { float v[4]; for (int i = 0; i < 4; i++) v[i] = p[b_k(i) * stride + lane_g()]; return frag_b(v); }
__device__ __forceinline__ FragB load_b_t(const float* p, int stride) { float v[4]; for (int i = 0; i < 4; i++) v[i] = p[lane_g() * stride + b_k(i)]; return frag_b(v); }
`;
