// Choosing where tensors live and ops run. One model definition runs on every backend; this file
// decides which one, once, before any tensor is made.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { registerExtraKernels } from './extra-kernels.js';

registerExtraKernels();

/** The backends a learner or the CLI can ask for; 'auto' picks the fastest that works here. */
export type BackendName = 'auto' | 'cpu' | 'wasm' | 'cuda';

const BACKEND_NAMES: readonly BackendName[] = ['auto', 'cpu', 'wasm', 'cuda'];

/** Options for initBackend. */
export interface InitBackendOptions {
  /** Print nothing (tests, benchmarks that print their own header). */
  quiet?: boolean;
}

/** Parse a user-supplied backend name, naming the accepted values when it is wrong. */
export function parseBackendName(name: string, field = '--backend'): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new Error(`${field}: unknown backend '${name}', expected one of ${BACKEND_NAMES.join(', ')}`);
}

/** One line describing the active backend, e.g. "wasm (SIMD, 1 thread)". */
export function describeBackend(): string {
  const name = tf.getBackend();
  if (name !== 'wasm') return name;
  const threads = getThreadsCount();
  // tfjs-backend-wasm turns threads off under Node (tfjs issue 3830): say so rather than hide it.
  return `wasm (SIMD, ${threads} thread${threads === 1 ? '' : 's'})`;
}

/**
 * Select and initialise a tfjs backend and return its name.
 * 'auto' tries cuda (once the cuda backend exists), then wasm, then cpu.
 */
export async function initBackend(name: BackendName = 'auto', options: InitBackendOptions = {}): Promise<string> {
  const candidates = name === 'auto' ? ['wasm', 'cpu'] : [name];
  const failures: string[] = [];
  for (const candidate of candidates) {
    if (tf.findBackendFactory(candidate) === null) {
      failures.push(`${candidate}: not registered`);
      continue;
    }
    // setBackend resolves to false (and logs) when the backend cannot start, e.g. wasm without WebAssembly.
    if (await tf.setBackend(candidate)) {
      await tf.ready();
      silenceNodeBanner();
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
