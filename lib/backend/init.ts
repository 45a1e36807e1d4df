// Choosing where tensors live and ops run. One model definition runs on every backend; this file
// decides which one, once, before any tensor is made.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import type { CudaBackend } from './cuda/backend.js';
import type { MatmulPrecision } from './cuda/ffi/cublas.js';
import { probeCuda, registerCudaBackend } from './cuda/register.js';
import { registerExtraKernels } from './extra-kernels.js';
import { kvCacheKernels } from './kv-cache-kernels.js';
import { quantizedKernels } from './quantized-kernels.js';
import { activeBlas, useBlas } from './wasm/register.js';

registerExtraKernels();
// Our own kernels on the CPU backends (the cuda backend registers its twins in cuda/register.ts).
for (const backendName of ['cpu', 'wasm'] as const) {
  for (const [kernelName, kernelFunc] of [...quantizedKernels(backendName), ...kvCacheKernels(backendName)]) tf.registerKernel({ kernelName, backendName, kernelFunc });
}

/** The backends a learner or the CLI can ask for; 'auto' picks the fastest that works here. */
export type BackendName = 'auto' | 'cpu' | 'wasm' | 'cuda';

const BACKEND_NAMES: readonly BackendName[] = ['auto', 'cpu', 'wasm', 'cuda'];

/** Options for initBackend. */
export interface InitBackendOptions {
  /** Print nothing (tests, benchmarks that print their own header). */
  quiet?: boolean;
  /** Matmul precision on cuda (ignored elsewhere): bf16 or tf32 for training, fp32 (default) for exactness. */
  matmul?: MatmulPrecision;
  /** On wasm, run matrix products on a native BLAS when one is found (default true). */
  blas?: boolean;
  /** Threads for the BLAS products (default: TINYLLM_THREADS, else every core). */
  threads?: number;
  /** On cuda, which GPU of this machine (default 0; a data-parallel rank takes its LOCAL_RANK). */
  device?: number;
}

const PRECISIONS: readonly MatmulPrecision[] = ['bf16', 'tf32', 'fp32'];

/** Parse a user-supplied --matmul value. */
export function parseMatmulPrecision(name: string, field = '--matmul'): MatmulPrecision {
  if ((PRECISIONS as readonly string[]).includes(name)) return name as MatmulPrecision;
  throw new Error(`${field}: unknown precision '${name}', expected one of ${PRECISIONS.join(', ')}`);
}

/** Parse a user-supplied backend name, naming the accepted values when it is wrong. */
export function parseBackendName(name: string, field = '--backend'): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new Error(`${field}: unknown backend '${name}', expected one of ${BACKEND_NAMES.join(', ')}`);
}

/** One line describing the active backend, e.g. "wasm (SIMD, 1 thread; products on OpenBLAS 0.3.34, 2 threads)". */
export function describeBackend(): string {
  const name = tf.getBackend();
  if (name === 'cuda') {
    const cuda = tf.backend() as CudaBackend;
    return `cuda (${cuda.ordinal > 0 ? `GPU ${cuda.ordinal}: ` : ''}${cuda.deviceName}, ${cuda.arch}, matmul ${cuda.matmulPrecision})`;
  }
  if (name !== 'wasm') return name;
  const threads = getThreadsCount();
  // tfjs-backend-wasm turns threads off under Node (tfjs issue 3830): say so rather than hide it.
  const plural = (n: number) => `${n} thread${n === 1 ? '' : 's'}`;
  const blas = activeBlas ? `; products on ${activeBlas.name}, ${plural(activeBlas.threads)}` : '';
  return `wasm (SIMD, ${plural(threads)}${blas})`;
}

/**
 * Select and initialise a tfjs backend and return its name.
 * 'auto' tries cuda (when a GPU is there), then wasm, then cpu.
 */
export async function initBackend(name: BackendName = 'auto', options: InitBackendOptions = {}): Promise<string> {
  const candidates = name === 'auto' ? ['cuda', 'wasm', 'cpu'] : [name];
  const failures: string[] = [];
  for (const candidate of candidates) {
    if (candidate === 'cuda') {
      // Probe first: a missing driver or library is an expected situation with a clear reason, not a stack trace.
      const { reason } = probeCuda();
      if (reason !== null) {
        if (name === 'cuda') throw new Error(`--backend cuda: ${reason}`);
        if (!options.quiet) console.log(`tinyllm: no usable GPU (${reason.split(';')[0]!.replace(/^cuda backend: /, '')}); using the CPU (--backend cuda shows the details)`);
        continue;
      }
      registerCudaBackend(options.device);
    }
    if (tf.findBackendFactory(candidate) === null) {
      failures.push(`${candidate}: not registered`);
      continue;
    }
    // setBackend resolves to false (and logs) when the backend cannot start, e.g. wasm without WebAssembly.
    if (await tf.setBackend(candidate)) {
      await tf.ready();
      silenceNodeBanner();
      if (candidate === 'cuda') (tf.backend() as CudaBackend).matmulPrecision = options.matmul ?? 'fp32';
      if (candidate === 'wasm') {
        const { reason } = useBlas(options.blas ?? true, options.threads);
        if (reason && options.blas !== false && !options.quiet) console.log(`tinyllm: ${reason}; matrix products stay on WebAssembly`);
      }
      if (!options.quiet) console.log(`tinyllm: backend ${describeBackend()}`);
      return candidate;
    }
    failures.push(`${candidate}: failed to initialise`);
  }
  throw new Error(`initBackend('${name}'): no usable backend (${failures.join('; ')}), expected one of cpu, wasm`);
}

/** tfjs-backend-cpu prints an advert for tfjs-node on first use; we chose not to use tfjs-node. */
function silenceNodeBanner(): void {
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
}
