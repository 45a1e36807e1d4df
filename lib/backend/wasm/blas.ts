// A native BLAS for the CPU's matrix products, loaded at run time through koffi (as the cuda backend
// loads cuBLAS): no compiler, no native build at install. The products of a training step run several
// times faster in OpenBLAS than in tfjs-backend-wasm (AVX2/AVX-512 kernels on every core, against
// 128-bit WebAssembly SIMD on one), and koffi hands it pointers straight into the wasm heap.
//
// Looked for, in order: TINYLLM_BLAS (a library file; `off` switches BLAS off), an activated venv and
// the project's .venv (the scipy-openblas32 wheel that `notebooks/tools/venv.sh` installs, also for
// `npm run demo`; found from the working directory up, where the CLI and notebooks run), the
// system's OpenBLAS (Debian/Ubuntu libopenblas0, via ldconfig), and Apple's Accelerate on macOS.
// None found is not an error: the wasm backend then multiplies as before.
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import koffi from 'koffi';
import { ldconfigOutput } from '../cuda/ffi/libraries.js';

/** A place a BLAS library may be, with its symbol prefix (scipy-openblas32 renames `cblas_*` to `scipy_cblas_*`). */
export interface BlasCandidate {
  path: string;
  prefix: string;
  source: string;
}

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

/**
 * Row-major products C = op(A)·op(B) on float32 views (into the wasm heap or any array),
 * `batch` of them: entry i reads A at i·strideA and B at i·strideB (a stride of 0 reuses one matrix)
 * and writes C at i·m·n.
 */
export interface SgemmArgs {
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
  a: Float32Array; // [m, k], or [k, m] when transposed (per entry)
  b: Float32Array; // [k, n], or [n, k] when transposed (per entry)
  c: Float32Array; // [m, n] (per entry)
  batch?: number;
  strideA?: number;
  strideB?: number;
}

type Fn = (...args: unknown[]) => unknown;

/** A loaded BLAS: single-precision matrix products and its thread count. */
export class Blas {
  readonly path: string;
  readonly source: string;
  private readonly sgemmFn: Fn;
  private readonly batchedFn: Fn | null;
  private readonly sgemvFn: Fn;
  private readonly setThreadsFn: Fn | null;
  private readonly configFn: Fn | null;
  private threadCount = 1;

  constructor(candidate: BlasCandidate) {
    const lib = koffi.load(candidate.path);
    const p = candidate.prefix;
    this.path = candidate.path;
    this.source = candidate.source;
    this.sgemmFn = lib.func(`void ${p}cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)`) as Fn;
    this.sgemvFn = lib.func(`void ${p}cblas_sgemv(int order, int trans, int m, int n, float alpha, const float *A, int lda, const float *x, int incx, float beta, float *y, int incy)`) as Fn;
    // Spreads the entries of a batch over the threads (a loop of small products cannot); OpenBLAS ≥ 0.3.27.
    this.batchedFn = optionalFunc(lib, `void ${p}cblas_sgemm_batch_strided(int order, int transA, int transB, int m, int n, int k, float alpha, const float *A, int lda, int strideA, const float *B, int ldb, int strideB, float beta, float *C, int ldc, int strideC, int batch)`);
    // OpenBLAS's own calls; Accelerate has neither and picks its threads itself.
    this.setThreadsFn = optionalFunc(lib, `void ${p}openblas_set_num_threads(int n)`);
    this.configFn = optionalFunc(lib, `const char *${p}openblas_get_config()`);
  }

  /** e.g. "OpenBLAS 0.3.34 (Haswell kernels)" or "Accelerate". */
  get name(): string {
    if (!this.configFn) return 'Accelerate';
    const config = String(this.configFn());
    const version = /OpenBLAS (\S+)/.exec(config)?.[1] ?? '';
    const core = / (\w+) MAX_THREADS/.exec(config)?.[1];
    return `OpenBLAS ${version.replace(/^(\d+\.\d+\.\d+).*/, '$1')}${core ? ` (${core} kernels)` : ''}`;
  }

  /** Threads the products run on. */
  get threads(): number {
    return this.threadCount;
  }

  set threads(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`blas: threads must be a whole number ≥ 1, got ${n}`);
    this.setThreadsFn?.(n);
    this.threadCount = this.setThreadsFn ? n : availableParallelism();
  }

  /** C = op(A)·op(B) for each entry of the batch, all row-major (C is overwritten). */
  sgemm({ m, n, k, transposeA, transposeB, a, b, c, batch = 1, strideA = 0, strideB = 0 }: SgemmArgs): void {
    const [ta, tb, lda, ldb] = [transposeA ? TRANS : NO_TRANS, transposeB ? TRANS : NO_TRANS, transposeA ? m : k, transposeB ? k : n];
    if (m === 1 && batch === 1 && !transposeA) {
      // One row times a matrix (decoding one token): a matrix-vector product, several times faster than
      // sgemm's general path at this shape. y = op(B)ᵀ·x, with B [n, k] (transposed) or [k, n].
      this.sgemvFn(ROW_MAJOR, transposeB ? NO_TRANS : TRANS, transposeB ? n : k, transposeB ? k : n, 1, b, ldb, a, 1, 0, c, 1);
      return;
    }
    if (batch > 1 && this.batchedFn) {
      this.batchedFn(ROW_MAJOR, ta, tb, m, n, k, 1, a, lda, strideA, b, ldb, strideB, 0, c, n, m * n, batch);
      return;
    }
    for (let i = 0; i < batch; i++) {
      const [ai, bi, ci] = [a.subarray(i * strideA), b.subarray(i * strideB), c.subarray(i * m * n)];
      this.sgemmFn(ROW_MAJOR, ta, tb, m, n, k, 1, ai, lda, bi, ldb, 0, ci, n);
    }
  }
}

function optionalFunc(lib: ReturnType<typeof koffi.load>, signature: string): Fn | null {
  try {
    return lib.func(signature) as Fn;
  } catch {
    return null;
  }
}

/** Python environments to look in: an activated one, then the nearest .venv/ from the working directory up. */
function virtualEnvs(env: NodeJS.ProcessEnv): string[] {
  const found = env.VIRTUAL_ENV ? [env.VIRTUAL_ENV] : [];
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.venv'))) {
      found.push(join(dir, '.venv'));
      break;
    }
    if (dirname(dir) === dir) break;
  }
  return found;
}

/** The places to look, in order (see the file header). */
export function blasCandidates(env: NodeJS.ProcessEnv = process.env): BlasCandidate[] {
  const found: BlasCandidate[] = [];
  if (env.TINYLLM_BLAS) return [{ path: env.TINYLLM_BLAS, prefix: /scipy_openblas/.test(env.TINYLLM_BLAS) ? 'scipy_' : '', source: 'TINYLLM_BLAS' }];
  for (const venv of virtualEnvs(env)) {
    const venvLib = join(venv, 'lib');
    if (!existsSync(venvLib)) continue;
    for (const python of readdirSync(venvLib)) {
      const dir = join(venvLib, python, 'site-packages', 'scipy_openblas32', 'lib');
      const file = existsSync(dir) ? readdirSync(dir).find((f) => /^libscipy_openblas\.(so|dylib)$/.test(f)) : undefined;
      if (file) found.push({ path: join(dir, file), prefix: 'scipy_', source: `${venv} (scipy-openblas32)` });
    }
  }
  const openblas = process.platform === 'linux' ? /libopenblas\.so\.0 .*=>\s*(\S+)/.exec(ldconfigOutput())?.[1] : undefined;
  if (openblas) found.push({ path: openblas, prefix: '', source: 'the system (ldconfig -p)' });
  const accelerate = '/System/Library/Frameworks/Accelerate.framework/Accelerate';
  if (process.platform === 'darwin') found.push({ path: accelerate, prefix: '', source: 'macOS Accelerate' });
  return found;
}

/** The BLAS to use (its threads set to TINYLLM_THREADS or every core), or null with the reason. */
export function loadBlas(env: NodeJS.ProcessEnv = process.env): { blas: Blas | null; reason: string } {
  if (env.TINYLLM_BLAS === 'off') return { blas: null, reason: 'TINYLLM_BLAS=off' };
  const threads = env.TINYLLM_THREADS === undefined ? availableParallelism() : Number(env.TINYLLM_THREADS);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`TINYLLM_THREADS: '${env.TINYLLM_THREADS}' is not valid, expected a whole number ≥ 1`);
  const failures: string[] = [];
  for (const candidate of blasCandidates(env)) {
    try {
      const blas = new Blas(candidate);
      blas.threads = threads;
      return { blas, reason: '' };
    } catch (e) {
      failures.push(`${candidate.path} (${candidate.source}): ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const reason = failures.length > 0
    ? `no BLAS could be loaded: ${failures.join('; ')}`
    : 'no BLAS found (bash notebooks/tools/venv.sh --blas installs OpenBLAS into .venv/; or apt install libopenblas0)';
  return { blas: null, reason };
}
