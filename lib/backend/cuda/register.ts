// Registering the cuda backend and its kernels with tfjs. The backend is not yet picked by
// initBackend('auto'): it joins once it runs a whole training step (issue 5); tests register it.
import * as tf from '@tensorflow/tfjs';
import { CudaBackend } from './backend.js';
import { CAST_KERNELS } from './kernels/cast.js';
import { ELEMENTWISE_KERNELS } from './kernels/elementwise.js';
import { INDEXING_KERNELS } from './kernels/indexing.js';
import { LAYOUT_KERNELS } from './kernels/layout.js';
import { MATMUL_KERNELS } from './kernels/matmul.js';
import { REDUCE_KERNELS } from './kernels/reduce.js';

let registered = false;

/** Register the 'cuda' backend factory and its kernels (once). tfjs never picks it by itself. */
export function registerCudaBackend(): void {
  if (registered) return;
  registered = true;
  tf.registerBackend('cuda', () => new CudaBackend(), -1);
  for (const [kernelName, kernelFunc] of [...ELEMENTWISE_KERNELS, ...CAST_KERNELS, ...LAYOUT_KERNELS, ...MATMUL_KERNELS, ...REDUCE_KERNELS, ...INDEXING_KERNELS]) {
    tf.registerKernel({ kernelName, backendName: 'cuda', kernelFunc });
  }
}
