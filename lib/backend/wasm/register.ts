// Switching the wasm backend onto a native BLAS and our fused CPU kernels, and back. The kernel table
// is global in tfjs, so this is a switch on the backend, not a second backend: `--backend wasm` gets
// both when a BLAS is found, and `initBackend('wasm', { blas: false })` measures plain tfjs-backend-wasm.
import * as tf from '@tensorflow/tfjs';
import { loadBlas, type Blas } from './blas.js';
import { gather, segmentSum } from './kernels/gather.js';
import { headLossKernels } from './kernels/head-loss.js';
import { identity } from './kernels/identity.js';
import { LAYER_KERNELS } from './kernels/layers.js';
import { blasBatchMatMul } from './matmul.js';

let loaded: { blas: Blas | null; reason: string } | null = null;
/** tfjs-backend-wasm's own kernels that ours replace (and fall back to), kept to restore them. */
let plain: Record<'BatchMatMul' | 'GatherV2' | 'UnsortedSegmentSum' | 'Identity', tf.KernelConfig> | null = null;

/** The BLAS the wasm backend multiplies with now, or null. */
export let activeBlas: Blas | null = null;

/** Our kernels on wasm when `blas` multiplies: BatchMatMul, gather and its gradient, an Identity that shares data, and the fused ops. */
function kernels(blas: Blas): tf.KernelConfig[] {
  const { BatchMatMul, GatherV2, UnsortedSegmentSum } = plain!;
  // setupFunc binds the wasm functions a fallback needs when the backend starts: keep it.
  const replaced = [
    { ...BatchMatMul, kernelFunc: blasBatchMatMul(blas, BatchMatMul.kernelFunc) },
    { ...GatherV2, kernelFunc: gather(GatherV2.kernelFunc) },
    { ...UnsortedSegmentSum, kernelFunc: segmentSum(UnsortedSegmentSum.kernelFunc) },
  ];
  const added = [...LAYER_KERNELS, ...headLossKernels(blas), ['Identity', identity] as const].map(([kernelName, kernelFunc]) => ({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc }));
  return [...replaced, ...added];
}

/**
 * Run wasm's matrix products on BLAS and its fused ops as our CPU kernels (on = true, when a BLAS is
 * found), or as tfjs-backend-wasm alone. Returns the BLAS in use, or null with the reason there is none.
 */
export function useBlas(on: boolean, threads?: number): { blas: Blas | null; reason: string } {
  loaded ??= loadBlas();
  plain ??= Object.fromEntries((['BatchMatMul', 'GatherV2', 'UnsortedSegmentSum', 'Identity'] as const).map((k) => [k, tf.getKernel(k, 'wasm')!])) as NonNullable<typeof plain>;
  const blas = on ? loaded.blas : null;
  if (blas && threads !== undefined) blas.threads = threads;
  if (blas !== activeBlas) {
    for (const k of kernels(activeBlas ?? blas!)) if (tf.getKernel(k.kernelName, 'wasm')) tf.unregisterKernel(k.kernelName, 'wasm');
    for (const k of blas ? kernels(blas) : Object.values(plain)) tf.registerKernel(k);
    activeBlas = blas;
  }
  return { blas, reason: on ? loaded.reason : 'switched off' };
}

/** Which BLAS the CPU path uses and where it was found, or why there is none (for `tinyllm info`). */
export function describeBlas(): string {
  loaded ??= loadBlas();
  const { blas, reason } = loaded;
  return blas ? `${blas.name}, ${blas.path} (found in ${blas.source})` : reason;
}
