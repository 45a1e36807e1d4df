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

/** Bytes of a shared-memory tile element (Elem) at a PRECISION value: bfloat16 for bf16, else float32. */
export const mmaElemBytes = (precision: number): number => (precision === 2 ? 2 : 4);

/** The fragments and products, for a source that defines PRECISION and includes BF16_BITS (bf16_pair) before them. */
export const MMA_SOURCE = `
__device__ __forceinline__ unsigned to_tf32(float x) { unsigned r; asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x)); return r; }
__device__ __forceinline__ void mma_tf32(float* c, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
    : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
// The two k-halves of a 16-deep product, as described above.
__device__ __forceinline__ void mma_tf32_k16(float* c, const unsigned* a, const unsigned* b) {
  mma_tf32(c, a[0], a[2], a[4], a[6], b[0], b[2]);
  mma_tf32(c, a[1], a[3], a[5], a[7], b[1], b[3]);
}

// frag_value(f, i): the value frag_a() was given as a[i], as the fragment holds it (rounded as the products read it).
#if PRECISION == 2
struct FragA { unsigned x[4]; };
struct FragB { unsigned x[2]; };
__device__ __forceinline__ FragA frag_a(const float* a) { FragA f; for (int i = 0; i < 4; i++) f.x[i] = bf16_pair(a[2 * i], a[2 * i + 1]); return f; }
__device__ __forceinline__ float frag_value(const FragA& f, int i) { unsigned w = f.x[i >> 1]; return __uint_as_float((i & 1) ? (w & 0xffff0000u) : (w << 16)); }
__device__ __forceinline__ FragB frag_b(const float* b) { FragB f; f.x[0] = bf16_pair(b[0], b[1]); f.x[1] = bf16_pair(b[2], b[3]); return f; }
__device__ __forceinline__ void mma(float* c, const FragA& a, const FragB& b) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
    : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a.x[0]), "r"(a.x[1]), "r"(a.x[2]), "r"(a.x[3]), "r"(b.x[0]), "r"(b.x[1]));
}
#elif PRECISION == 1
struct FragA { unsigned x[8]; };
struct FragB { unsigned x[4]; };
__device__ __forceinline__ FragA frag_a(const float* a) { FragA f; for (int i = 0; i < 8; i++) f.x[i] = to_tf32(a[i]); return f; }
__device__ __forceinline__ float frag_value(const FragA& f, int i) { return __uint_as_float(f.x[i]); }
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
__device__ __forceinline__ float frag_value(const FragA& f, int i) { return __uint_as_float(f.big[i]) + __uint_as_float(f.small[i]); }
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

// Fragments from shared memory. A tile starts at p; stride is its row length in elements. "_t" reads a
// tile stored transposed (A as [k][row], B as [col][k]). Tiles hold Elem: float for TF32 and float32
// (each value read on its own and converted), bfloat16 bits for bf16 — read with ldmatrix, where each
// lane gives the address of one 16-byte row of an 8×8 matrix and gets back two neighbouring values of
// each matrix in exactly the fragment layout above (.trans: of the matrix transposed). Rows of such a
// tile must start at multiples of 16 bytes.
__device__ __forceinline__ int lane_g() { return (threadIdx.x & 31) >> 2; }
__device__ __forceinline__ int lane_t() { return threadIdx.x & 3; }
__device__ __forceinline__ int a_row(int i) { return lane_g() + 8 * ((i >> 1) & 1); }
__device__ __forceinline__ int a_k(int i) { return 2 * lane_t() + (i & 1) + 8 * (i >> 2); }
__device__ __forceinline__ int b_k(int i) { return 2 * lane_t() + (i & 1) + 8 * (i >> 1); }
__device__ __forceinline__ int c_row(int i) { return lane_g() + 8 * (i >> 1); }
__device__ __forceinline__ int c_col(int i) { return 2 * lane_t() + (i & 1); }
#if PRECISION == 2
typedef unsigned short Elem;
__device__ __forceinline__ Elem to_elem(float x) { unsigned short r; asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x)); return r; }
__device__ __forceinline__ unsigned shared_address(const Elem* p) { return (unsigned)__cvta_generic_to_shared(p); }
// Matrices m = 0…3 from lanes 8m…8m+7 (x2: lanes 0…15); lane l of the warp then holds matrix i's values in register i.
__device__ __forceinline__ void ldsm4(unsigned* r, const Elem* p) { asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_address(p))); }
__device__ __forceinline__ void ldsm4_t(unsigned* r, const Elem* p) { asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_address(p))); }
__device__ __forceinline__ void ldsm2(unsigned* r, const Elem* p) { asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];" : "=r"(r[0]), "=r"(r[1]) : "r"(shared_address(p))); }
__device__ __forceinline__ void ldsm2_t(unsigned* r, const Elem* p) { asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];" : "=r"(r[0]), "=r"(r[1]) : "r"(shared_address(p))); }
// The lane's matrix and its row in it.
__device__ __forceinline__ int ld_m() { return (threadIdx.x & 31) >> 3; }
__device__ __forceinline__ int ld_r() { return threadIdx.x & 7; }
// A [row][k]: matrices (rows 0–7, k 0–7), (rows 8–15, k 0–7), (rows 0–7, k 8–15), (rows 8–15, k 8–15).
__device__ __forceinline__ FragA load_a(const Elem* p, int stride) { FragA f; ldsm4(f.x, p + (ld_r() + 8 * (ld_m() & 1)) * stride + 8 * (ld_m() >> 1)); return f; }
// A stored [k][row]: the same four matrices, each transposed.
__device__ __forceinline__ FragA load_a_t(const Elem* p, int stride) { FragA f; ldsm4_t(f.x, p + (ld_r() + 8 * (ld_m() >> 1)) * stride + 8 * (ld_m() & 1)); return f; }
// B [k][col]: matrices (k 0–7), (k 8–15), transposed.
__device__ __forceinline__ FragB load_b(const Elem* p, int stride) { FragB f; ldsm2_t(f.x, p + (threadIdx.x & 15) * stride); return f; }
// B stored [col][k]: matrices (k 0–7), (k 8–15).
__device__ __forceinline__ FragB load_b_t(const Elem* p, int stride) { FragB f; ldsm2(f.x, p + ld_r() * stride + 8 * (ld_m() & 1)); return f; }
#else
typedef float Elem;
__device__ __forceinline__ Elem to_elem(float x) { return x; }
__device__ __forceinline__ FragA load_a(const float* p, int stride) { float v[8]; for (int i = 0; i < 8; i++) v[i] = p[a_row(i) * stride + a_k(i)]; return frag_a(v); }
__device__ __forceinline__ FragA load_a_t(const float* p, int stride) { float v[8]; for (int i = 0; i < 8; i++) v[i] = p[a_k(i) * stride + a_row(i)]; return frag_a(v); }
__device__ __forceinline__ FragB load_b(const float* p, int stride) { float v[4]; for (int i = 0; i < 4; i++) v[i] = p[b_k(i) * stride + lane_g()]; return frag_b(v); }
__device__ __forceinline__ FragB load_b_t(const float* p, int stride) { float v[4]; for (int i = 0; i < 4; i++) v[i] = p[lane_g() * stride + b_k(i)]; return frag_b(v); }
#endif
`;
