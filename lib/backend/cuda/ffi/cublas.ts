// cuBLAS, NVIDIA's dense linear algebra library: the matrix products of the model. Bound with koffi.
import koffi, { type LibraryHandle } from 'koffi';
import type { Handle } from './driver.js';
import { findLibrary, searchDirectories, type SearchDir } from './libraries.js';

type Fn = ReturnType<LibraryHandle['func']>;

const OP = { N: 0, T: 1 } as const;
const R_32F = 0;
const R_16BF = 14;
/**
 * Matmul precision: plain float32; TF32 tensor cores (inputs rounded to a 10-bit mantissa, float32
 * sums); or bf16 inputs (the caller converts them) with float32 sums — the fastest, as in mixed-precision training.
 */
export type MatmulPrecision = 'fp32' | 'tf32' | 'bf16';
const COMPUTE: Record<MatmulPrecision, number> = { fp32: 68, tf32: 77, bf16: 68 };
const GEMM_DEFAULT = -1;

/** One row-major batched product C[b] = op(A[b]) · op(B[b]); a batch stride of 0 reuses one matrix. */
export interface Gemm {
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
  a: bigint;
  b: bigint;
  c: bigint;
  strideA: number;
  strideB: number;
  batch: number;
  /** With 'bf16', a and b point to bfloat16 data. */
  precision: MatmulPrecision;
  /** C's type: float32 (default), or bfloat16 (rounded from the float32 sums; 'bf16' precision only). */
  output?: 'float32' | 'bfloat16';
  /** C += op(A)·op(B) instead of C = (cuBLAS's beta = 1): several products summed into one C. */
  accumulate?: boolean;
}

/** A cuBLAS handle bound to one stream. */
export class Cublas {
  private readonly fn: Record<string, Fn>;
  private readonly handle: Handle;
  /** Held for the object's lifetime: koffi unloads a library whose handle is garbage-collected. */
  readonly lt: LibraryHandle;

  constructor(stream: Handle, dirs: SearchDir[] = searchDirectories()) {
    this.lt = koffi.load(findLibrary('cublasLt', dirs)); // libcublas loads it by name
    const lib = koffi.load(findLibrary('cublas', dirs));
    this.fn = {
      create: lib.func('int cublasCreate_v2(_Out_ void **handle)'),
      setStream: lib.func('int cublasSetStream_v2(void *handle, void *stream)'),
      status: lib.func('const char *cublasGetStatusString(int status)'),
      gemm: lib.func('int cublasGemmStridedBatchedEx(void *handle, int transa, int transb, int m, int n, int k, const float *alpha, uint64_t A, int Atype, int lda, int64_t strideA, uint64_t B, int Btype, int ldb, int64_t strideB, const float *beta, uint64_t C, int Ctype, int ldc, int64_t strideC, int batchCount, int computeType, int algo)'),
    };
    const handle: Handle[] = [null];
    this.check(this.fn.create!(handle), 'cublasCreate');
    this.handle = handle[0];
    this.check(this.fn.setStream!(this.handle, stream), 'cublasSetStream');
  }

  /**
   * Row-major C = op(A)·op(B) through column-major cuBLAS: a row-major matrix is its transpose in
   * column-major order, so compute Cᵀ = op(B)ᵀ·op(A)ᵀ, i.e. swap the operands and keep their flags.
   */
  gemm(g: Gemm): void {
    const lda = g.transposeB ? g.k : g.n; // leading dimension of B as stored, B first in column-major
    const ldb = g.transposeA ? g.m : g.k;
    const input = g.precision === 'bf16' ? R_16BF : R_32F;
    if (g.output === 'bfloat16' && g.precision !== 'bf16') throw new Error(`cuda: a bfloat16 product output takes bf16 inputs, got ${g.precision}`);
    const status = this.fn.gemm!(
      this.handle, g.transposeB ? OP.T : OP.N, g.transposeA ? OP.T : OP.N, g.n, g.m, g.k,
      Float32Array.of(1), g.b, input, lda, g.strideB, g.a, input, ldb, g.strideA,
      Float32Array.of(g.accumulate ? 1 : 0), g.c, g.output === 'bfloat16' ? R_16BF : R_32F, g.n, g.m * g.n, g.batch, COMPUTE[g.precision], GEMM_DEFAULT,
    );
    this.check(status, `cublasGemmStridedBatchedEx(${g.batch}×[${g.m}×${g.k}]·[${g.k}×${g.n}])`);
  }

  private check(status: unknown, call: string): void {
    if (status !== 0) throw new Error(`cuda: ${call} failed: ${this.fn.status!(status as number) as string} (${status})`);
  }
}
