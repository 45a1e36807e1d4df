// Registering the cuda backend and its kernels with tfjs, after checking that a GPU is there.
import * as tf from '@tensorflow/tfjs';
import { CudaBackend } from './backend.js';
import { Driver } from './ffi/driver.js';
import { ADAMW_KERNELS } from './kernels/adamw.js';
import { CAST_KERNELS } from './kernels/cast.js';
import { ELEMENTWISE_KERNELS } from './kernels/elementwise.js';
import { FLASH_ATTENTION_KERNELS } from './kernels/flash-attention.js';
import { FUSED_LAYER_KERNELS } from './kernels/fused-layers.js';
import { CAUSAL_SOFTMAX_KERNELS } from './kernels/causal-softmax.js';
import { HEAD_LOSS_KERNELS } from './kernels/head-loss.js';
import { INDEXING_KERNELS } from './kernels/indexing.js';
import { KV_CACHE_KERNELS } from './kernels/kv-cache.js';
import { LAYOUT_KERNELS } from './kernels/layout.js';
import { MATMUL_KERNELS } from './kernels/matmul.js';
import { PROJECTION_KERNELS } from './kernels/projections.js';
import { QUANTIZED_KERNELS } from './kernels/quantized.js';
import { REDUCE_KERNELS } from './kernels/reduce.js';
import { SQUARED_NORM_KERNELS } from './kernels/squared-norm.js';

let registered = false;

/** A driver with at least one GPU, or why there is none (no driver, no device, libraries missing). */
export function probeCuda(): { driver: Driver; reason: null } | { driver: null; reason: string } {
  try {
    const driver = new Driver();
    if (driver.deviceCount() === 0) return { driver: null, reason: 'the CUDA driver reports no GPU' };
    return { driver, reason: null };
  } catch (err) {
    return { driver: null, reason: (err as Error).message };
  }
}

/** The GPU the backend will open when tfjs first creates it. */
let deviceOrdinal = 0;

/**
 * Register the 'cuda' backend factory and its kernels (once), on GPU `device` of this machine. tfjs never
 * picks it by itself (priority −1); it creates the backend on first use, on the device set last.
 */
export function registerCudaBackend(device = 0): void {
  deviceOrdinal = device;
  if (registered) return;
  registered = true;
  tf.registerBackend('cuda', () => new CudaBackend(new Driver(), deviceOrdinal), -1);
  for (const [kernelName, kernelFunc] of [...ELEMENTWISE_KERNELS, ...CAST_KERNELS, ...LAYOUT_KERNELS, ...MATMUL_KERNELS, ...REDUCE_KERNELS, ...INDEXING_KERNELS,
    ...PROJECTION_KERNELS, ...FUSED_LAYER_KERNELS, ...CAUSAL_SOFTMAX_KERNELS, ...FLASH_ATTENTION_KERNELS, ...HEAD_LOSS_KERNELS, ...ADAMW_KERNELS, ...SQUARED_NORM_KERNELS, ...QUANTIZED_KERNELS,
    ...KV_CACHE_KERNELS]) {
    tf.registerKernel({ kernelName, backendName: 'cuda', kernelFunc });
  }
}
