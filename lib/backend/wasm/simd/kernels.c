// The CPU's fused kernels (see lib/model/fused.ts), in C compiled to WebAssembly with 128-bit SIMD:
// four float lanes per instruction, exp included, where V8's JavaScript does one at a time and calls
// out for Math.exp. They run inside tfjs-backend-wasm's own memory (imported, not copied): every
// pointer is a tensor's place in that heap. No libc, no static data and no stack, so the module never
// writes anywhere but the outputs it is given. build.sh compiles it into kernels-wasm.ts (committed:
// users need no compiler); lib/backend/wasm/simd.ts loads it.
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

typedef v128_t f32x4;

static inline f32x4 splat(float x) { return wasm_f32x4_splat(x); }

// e^x for four lanes: x·log2(e) = k + r with k an integer and |r| ≤ 1/2, 2^k built in the exponent
// bits, 2^r from its Taylor polynomial in r·ln 2 (degree 6: within 2e-7 relative). Inputs are clamped
// to [−87, 88]: e^x stays a normal float32, so exp(−∞) gives 1e−38, not 0 — nothing a sum notices.
static inline f32x4 exp4(f32x4 x) {
  x = wasm_f32x4_pmax(wasm_f32x4_pmin(x, splat(88.0f)), splat(-87.0f));
  f32x4 t = wasm_f32x4_mul(x, splat(1.44269504088896341f));
  f32x4 k = wasm_f32x4_nearest(t);
  f32x4 r = wasm_f32x4_sub(t, k);
  f32x4 p = splat(1.5403530393381606e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(1.3333558146428443e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(9.618129107628477e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(5.550410866482158e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(2.402265069591007e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(6.931471805599453e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(1.0f));
  v128_t bits = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(k), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, bits);
}

// One lane of exp4, for the tails of rows whose length is not a multiple of 4.
static inline float exp1(float x) { return wasm_f32x4_extract_lane(exp4(splat(x)), 0); }

static inline float sum4(f32x4 v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

static inline float max4(f32x4 v) {
  float a = wasm_f32x4_extract_lane(v, 0), b = wasm_f32x4_extract_lane(v, 1);
  float c = wasm_f32x4_extract_lane(v, 2), d = wasm_f32x4_extract_lane(v, 3);
  a = a > b ? a : b;
  c = c > d ? c : d;
  return a > c ? a : c;
}

// ln x for one positive, normal x (a row's sum of exponentials): x = m·2^e with m in [√½, √2), then
// ln m = 2·atanh(z), z = (m − 1)/(m + 1), |z| < 0.18, by its series (to 1e-10).
static double log_d(double x) {
  unsigned long long bits = __builtin_bit_cast(unsigned long long, x);
  int e = (int)((bits >> 52) & 0x7ff) - 1023;
  double m = __builtin_bit_cast(double, (bits & 0xfffffffffffffULL) | 0x3ff0000000000000ULL);
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e += 1;
  }
  double z = (m - 1.0) / (m + 1.0), z2 = z * z;
  double series = 1.0 + z2 * (1.0 / 3 + z2 * (1.0 / 5 + z2 * (1.0 / 7 + z2 * (1.0 / 9 + z2 / 11))));
  return e * 0.6931471805599453 + 2.0 * z * series;
}

static inline f32x4 load(const float* p) { return wasm_v128_load(p); }
static inline void store(float* p, f32x4 v) { wasm_v128_store(p, v); }

// Max of x[0..n).
static float row_max(const float* x, int n) {
  f32x4 m = splat(-3.4028235e38f);
  int j = 0;
  for (; j + 4 <= n; j += 4) m = wasm_f32x4_pmax(m, load(x + j));
  float best = max4(m);
  for (; j < n; j++) best = x[j] > best ? x[j] : best;
  return best;
}

// y[j] = e^(scale·x[j] − shift) for j < n; returns their sum. y may be x.
static float exp_row(float* y, const float* x, int n, float scale, float shift) {
  f32x4 s4 = splat(scale), sh4 = splat(shift), acc = splat(0.0f);
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    f32x4 e = exp4(wasm_f32x4_sub(wasm_f32x4_mul(load(x + j), s4), sh4));
    store(y + j, e);
    acc = wasm_f32x4_add(acc, e);
  }
  float sum = sum4(acc);
  for (; j < n; j++) {
    y[j] = exp1(x[j] * scale - shift);
    sum += y[j];
  }
  return sum;
}

// x[j] *= a for j < n.
static void scale_row(float* x, int n, float a) {
  f32x4 a4 = splat(a);
  int j = 0;
  for (; j + 4 <= n; j += 4) store(x + j, wasm_f32x4_mul(load(x + j), a4));
  for (; j < n; j++) x[j] *= a;
}

static void zero(float* x, int n) {
  for (int j = 0; j < n; j++) x[j] = 0.0f;
}

// Σ a[j]·b[j] for j < n.
static float dot_row(const float* a, const float* b, int n) {
  f32x4 acc = splat(0.0f);
  int j = 0;
  for (; j + 4 <= n; j += 4) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(load(a + j), load(b + j)));
  float sum = sum4(acc);
  for (; j < n; j++) sum += a[j] * b[j];
  return sum;
}

// Cross-entropy of each row of V logits, of which the first `classes` are real (the rest padding):
// loss[r] = logsumexp(x_r) − x_r[target]; x_r becomes softmax(x_r) − onehot(target), the logits'
// gradient. A target outside [0, classes) gives loss 0 and a zero row.
EXPORT(cross_entropy_rows)
void cross_entropy_rows(float* x, const int* targets, float* loss, int rows, int V, int classes) {
  for (int r = 0; r < rows; r++) {
    float* row = x + (long)r * V;
    int target = targets[r];
    if (target < 0 || target >= classes) {
      loss[r] = 0.0f;
      zero(row, V);
      continue;
    }
    float max = row_max(row, classes);
    float picked = row[target];
    float sum = exp_row(row, row, classes, 1.0f, max);
    loss[r] = (float)log_d(sum) + max - picked;
    scale_row(row, classes, 1.0f / sum);
    row[target] -= 1.0f;
    zero(row + classes, V - classes);
  }
}

// out[r, j] = x[r, j]·dy[r] for rows of D.
EXPORT(scale_rows)
void scale_rows(float* out, const float* x, const float* dy, int rows, int D) {
  for (int r = 0; r < rows; r++) {
    const float* in = x + (long)r * D;
    float* o = out + (long)r * D;
    f32x4 d4 = splat(dy[r]);
    int j = 0;
    for (; j + 4 <= D; j += 4) store(o + j, wasm_f32x4_mul(load(in + j), d4));
    for (; j < D; j++) o[j] = in[j] * dy[r];
  }
}

// Causal softmax over rows of S keys: p = softmax(scale·s) over keys j ≤ q, 0 beyond, where the row's
// query position q is offset + row % T.
EXPORT(causal_softmax)
void causal_softmax(float* p, const float* s, int rows, int T, int S, int offset, float scale) {
  for (int r = 0; r < rows; r++) {
    const float* in = s + (long)r * S;
    float* out = p + (long)r * S;
    int n = offset + r % T + 1;
    if (n > S) n = S;
    float max = row_max(in, n) * scale; // scale > 0: the max of the scaled row
    float sum = exp_row(out, in, n, scale, max);
    scale_row(out, n, 1.0f / sum);
    zero(out + n, S - n);
  }
}

// Its backward: ds = scale·p·(dp − Σ dp·p) over the unmasked keys, 0 beyond.
EXPORT(causal_softmax_grad)
void causal_softmax_grad(float* ds, const float* dp, const float* p, int rows, int T, int S, int offset, float scale) {
  for (int r = 0; r < rows; r++) {
    const float* g = dp + (long)r * S;
    const float* pr = p + (long)r * S;
    float* out = ds + (long)r * S;
    int n = offset + r % T + 1;
    if (n > S) n = S;
    f32x4 dot = splat(dot_row(g, pr, n)), s4 = splat(scale);
    int j = 0;
    for (; j + 4 <= n; j += 4) store(out + j, wasm_f32x4_mul(s4, wasm_f32x4_mul(load(pr + j), wasm_f32x4_sub(load(g + j), dot))));
    for (; j < n; j++) out[j] = scale * pr[j] * (g[j] - wasm_f32x4_extract_lane(dot, 0));
    zero(out + n, S - n);
  }
}

// σ(g) = 1 / (1 + e^−g), four lanes.
static inline f32x4 sigmoid4(f32x4 g) {
  return wasm_f32x4_div(splat(1.0f), wasm_f32x4_add(splat(1.0f), exp4(wasm_f32x4_neg(g))));
}

// SwiGLU's gate: h = silu(g)·u = g·σ(g)·u.
EXPORT(swiglu)
void swiglu(float* h, const float* g, const float* u, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    f32x4 gi = load(g + i);
    store(h + i, wasm_f32x4_mul(wasm_f32x4_mul(gi, sigmoid4(gi)), load(u + i)));
  }
  for (; i < n; i++) h[i] = g[i] * u[i] / (1.0f + exp1(-g[i]));
}

// Its backward: dg = dy·u·σ(g)·(1 + g·(1 − σ(g))), du = dy·g·σ(g).
EXPORT(swiglu_grad)
void swiglu_grad(float* dg, float* du, const float* dy, const float* g, const float* u, int n) {
  f32x4 one = splat(1.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    f32x4 gi = load(g + i), s = sigmoid4(gi), d = load(dy + i);
    f32x4 local = wasm_f32x4_add(one, wasm_f32x4_mul(gi, wasm_f32x4_sub(one, s)));
    store(dg + i, wasm_f32x4_mul(wasm_f32x4_mul(d, load(u + i)), wasm_f32x4_mul(s, local)));
    store(du + i, wasm_f32x4_mul(d, wasm_f32x4_mul(gi, s)));
  }
  for (; i < n; i++) {
    float s = 1.0f / (1.0f + exp1(-g[i]));
    dg[i] = dy[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    du[i] = dy[i] * g[i] * s;
  }
}

// RMSNorm over rows of D: y = x · rsqrt(mean(x²) + eps) · w.
EXPORT(rms_norm)
void rms_norm(float* y, const float* x, const float* w, int rows, int D, float eps) {
  for (int r = 0; r < rows; r++) {
    const float* in = x + (long)r * D;
    float* out = y + (long)r * D;
    f32x4 s4 = splat(1.0f / __builtin_sqrtf(dot_row(in, in, D) / D + eps));
    int j = 0;
    for (; j + 4 <= D; j += 4) store(out + j, wasm_f32x4_mul(wasm_f32x4_mul(load(in + j), s4), load(w + j)));
    for (; j < D; j++) out[j] = in[j] * wasm_f32x4_extract_lane(s4, 0) * w[j];
  }
}

// Its backward, with x̂ = x·s and s = rsqrt(mean(x²) + eps): dx = s·(dy·w − x̂·mean(dy·w·x̂)),
// dw = Σ_rows dy·x̂.
EXPORT(rms_norm_grad)
void rms_norm_grad(float* dx, float* dw, const float* dy, const float* x, const float* w, int rows, int D, float eps) {
  zero(dw, D);
  for (int r = 0; r < rows; r++) {
    const float* in = x + (long)r * D;
    const float* g = dy + (long)r * D;
    float* out = dx + (long)r * D;
    float s = 1.0f / __builtin_sqrtf(dot_row(in, in, D) / D + eps);
    float mean = 0.0f; // mean(dy·w·x̂) = s·Σ(dy·w·x)/D
    for (int j = 0; j < D; j++) mean += g[j] * w[j] * in[j];
    mean *= s / D;
    for (int j = 0; j < D; j++) {
      float xhat = in[j] * s;
      out[j] = s * (g[j] * w[j] - xhat * mean);
      dw[j] += g[j] * xhat;
    }
  }
}

// RoPE (rotate-half layout) on rows of Dh, T rows to a sequence [.., T, Dh], at positions
// offset…offset+T−1: out = x·cos + sign·rot(x)·sin with rot([x1, x2]) = [−x2, x1]; sign −1 rotates back.
EXPORT(rope)
void rope(float* out, const float* x, const float* cos_t, const float* sin_t, int rows, int T, int Dh, int offset, float sign) {
  int half = Dh / 2;
  for (int r = 0; r < rows; r++) {
    const float* in = x + (long)r * Dh;
    float* o = out + (long)r * Dh;
    const float* c = cos_t + (long)(offset + r % T) * Dh;
    const float* sn = sin_t + (long)(offset + r % T) * Dh;
    for (int d = 0; d < half; d++) {
      float x1 = in[d], x2 = in[d + half];
      o[d] = x1 * c[d] - sign * x2 * sn[d];
      o[d + half] = x2 * c[d + half] + sign * x1 * sn[d + half];
    }
  }
}

// AdamW in place: m, v ← moments of g·grad_scale; p ← p·decay − lr·(m/c1)/(√(v/c2) + eps).
EXPORT(adamw)
void adamw(float* p, const float* g, float* m, float* v, int n, float lr, float beta1, float beta2, float eps,
           float decay, float c1, float c2, float grad_scale) {
  for (int i = 0; i < n; i++) {
    float gi = g[i] * grad_scale;
    float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - lr * (mi / c1) / (__builtin_sqrtf(vi / c2) + eps);
  }
}

// Gather along an axis, for 4-byte values: x viewed as [outer, dim, inner], ids [n] (checked by the
// caller to lie in [0, dim)): out[o, i, :] = x[o, ids[i], :], out [outer, n, inner]. The embedding
// lookup of every step (outer 1): whole rows copied, where tfjs-backend-wasm indexes each element.
EXPORT(gather_rows)
void gather_rows(float* out, const float* x, const int* ids, int outer, int dim, int n, int inner) {
  for (int o = 0; o < outer; o++) {
    for (int i = 0; i < n; i++) {
      __builtin_memcpy(out + ((long)o * n + i) * inner, x + ((long)o * dim + ids[i]) * inner, inner * sizeof(float));
    }
  }
}

// The gradient of gather along axis 0 (of every embedding lookup): out [segments, inner] = 0, then
// out[ids[i], :] += x[i, :] for x [n, inner]; ids outside [0, segments) are dropped, as TensorFlow does.
EXPORT(segment_sum_rows)
void segment_sum_rows(float* out, const float* x, const int* ids, int n, int segments, int inner) {
  __builtin_memset(out, 0, (long)segments * inner * sizeof(float));
  for (int i = 0; i < n; i++) {
    int id = ids[i];
    if (id < 0 || id >= segments) continue;
    float* o = out + (long)id * inner;
    const float* in = x + (long)i * inner;
    int j = 0;
    for (; j + 4 <= inner; j += 4) store(o + j, wasm_f32x4_add(load(o + j), load(in + j)));
    for (; j < inner; j++) o[j] += in[j];
  }
}

// IEEE half → float by its bits (the scale of a quantized block): sign, 5-bit exponent, 10-bit mantissa.
static inline float half_to_float(unsigned h) {
  unsigned sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0) return (sign ? -1.0f : 1.0f) * (float)mantissa * 5.9604644775390625e-8f; // subnormal: m·2⁻²⁴
  unsigned bits = exponent == 31 ? (sign | 0x7f800000u | (mantissa << 13)) : (sign | ((exponent + 112) << 23) | (mantissa << 13));
  return __builtin_bit_cast(float, bits);
}

// Eight levels of a block as floats, from 8 bytes at p: int8 (Q8_0), or the low / high nibbles minus 8 (Q4_0).
static inline __attribute__((always_inline)) void levels8(const unsigned char* p, int q4, int high, f32x4* lo, f32x4* hi) {
  v128_t v; // 8 values widened to 16 bits
  if (q4) {
    v = wasm_u16x8_load8x8(p);
    v = high ? wasm_u16x8_shr(v, 4) : wasm_v128_and(v, wasm_i16x8_splat(15));
    v = wasm_i16x8_sub(v, wasm_i16x8_splat(8));
  } else {
    v = wasm_i16x8_load8x8(p); // int8, sign-extended
  }
  *lo = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(v));
  *hi = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(v));
}

// y [N, rows] = x [N, cols] · Wᵀ, W [rows, cols] as Q8_0 (q4 = 0: 34-byte blocks) or Q4_0 (q4 = 1:
// 18-byte blocks) blocks of 32 along the flattened weight (lib/quant/matvec.ts is the reference): each
// block's scale read once, its levels widened eight at a time and multiplied in four lanes.
EXPORT(quantized_matvec)
void quantized_matvec(float* y, const float* x, const unsigned char* blocks, int N, int rows, int cols, int q4) {
  const int block_bytes = q4 ? 18 : 34;
  for (int n = 0; n < N * rows; n++) y[n] = 0.0f;
  for (int r = 0; r < rows; r++) {
    const long row_start = (long)r * cols;
    for (long i = row_start; i < row_start + cols;) {
      const long block = i >> 5;
      const unsigned char* b = blocks + block * block_bytes;
      const float d = half_to_float(b[0] | (b[1] << 8));
      const int first = (int)(i - block * 32);
      const long row_end = row_start + cols - block * 32;
      const int last = row_end < 32 ? (int)row_end : 32;
      for (int n = 0; n < N; n++) {
        const float* xb = x + (long)n * cols + block * 32 - row_start; // xb[j] meets level j of this block
        f32x4 acc = splat(0.0f);
        float tail = 0.0f;
        int j = first;
        // Whole groups of eight inside one half of the block (Q4_0's halves live in different nibbles).
        for (; j < last; ) {
          const int half_end = q4 && j < 16 ? (last < 16 ? last : 16) : last;
          if ((j & 7) == 0 && j + 8 <= half_end) {
            f32x4 lo, hi;
            levels8(b + 2 + (q4 ? (j & 15) : j), q4, q4 && j >= 16, &lo, &hi);
            acc = wasm_f32x4_add(acc, wasm_f32x4_add(wasm_f32x4_mul(lo, load(xb + j)), wasm_f32x4_mul(hi, load(xb + j + 4))));
            j += 8;
          } else {
            const int level = q4 ? (j < 16 ? (b[2 + j] & 15) : (b[2 + j - 16] >> 4)) - 8 : (signed char)b[2 + j];
            tail += xb[j] * (float)level;
            j++;
          }
        }
        y[(long)n * rows + r] += d * (sum4(acc) + tail);
      }
      i = block * 32 + last;
    }
  }
}
