// The LM head and the cross-entropy over the vocabulary as one op on the CPU (see headCrossEntropy in
// lib/model/loss.ts), as the cuda backend has it: logits = h·Wᵀ by BLAS into the loss tensor's tail,
// then one SIMD pass per row writes the loss and turns the row into softmax − onehot, the logits'
// gradient (llm.c's trick). The backward is two more products: dW = dlogitsᵀ·(dy∘h), dh = dy∘(dlogits·W)
// — dy scales the small operands, not the [N, V] matrix. The logits are never a tfjs tensor, and the
// log-softmax, one-hot, product and sum of the plain composition are never made.
import * as tf from '@tensorflow/tfjs';
import { FUSED, gradOf } from '../../../model/fused.js';
import type { Blas } from '../blas.js';
import { at, f32, makeOutputWithTail, tail, type WasmBackend } from '../heap.js';
import { simd } from '../simd.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** inputs {h [N, D], weight [V, D], targets [N] int32}: per-token losses [N], 0 where the target is outside [0, V). */
const headLoss = (blas: Blas) => ({ inputs, backend }: KernelArgs): tf.TensorInfo => {
  const { h, weight, targets } = inputs as { h: tf.TensorInfo; weight: tf.TensorInfo; targets: tf.TensorInfo };
  const wasm = backend as unknown as WasmBackend;
  const [N, D] = h.shape as [number, number];
  const V = weight.shape[0]!;
  const loss = makeOutputWithTail(wasm, [N], N * V); // the tail: logits [N, V], then their gradient
  const [hv, wv, logits] = f32(wasm, [h, weight, [tail(wasm, loss), N * V]]);
  blas.sgemm({ m: N, n: V, k: D, transposeA: false, transposeB: true, a: hv!, b: wv!, c: logits! });
  simd(wasm).cross_entropy_rows(tail(wasm, loss), at(wasm, targets), at(wasm, loss), N, V, V);
  return loss;
};

/** inputs {dy [N], h [N, D], weight [V, D], loss [N] with its tail}: [dh [N, D], dweight [V, D]]. */
const headLossGrad = (blas: Blas) => ({ inputs, backend }: KernelArgs): tf.TensorInfo[] => {
  const { dy, h, weight, loss } = inputs as Record<string, tf.TensorInfo>;
  const wasm = backend as unknown as WasmBackend;
  const [N, D] = h!.shape as [number, number];
  const V = weight!.shape[0]!;
  const dh = wasm.makeOutput([N, D], 'float32');
  const dw = wasm.makeOutput([V, D], 'float32');
  const scaled = wasm.makeOutput([N, D], 'float32'); // dy∘h
  simd(wasm).scale_rows(at(wasm, scaled), at(wasm, h!), at(wasm, dy!), N, D);
  const [grad, sv, wv, dwv, dhv] = f32(wasm, [[tail(wasm, loss!), N * V], scaled, weight!, dw, dh]); // grad [N, V]
  blas.sgemm({ m: V, n: D, k: N, transposeA: true, transposeB: false, a: grad!, b: sv!, c: dwv! });
  blas.sgemm({ m: N, n: D, k: V, transposeA: false, transposeB: false, a: grad!, b: wv!, c: dhv! });
  simd(wasm).scale_rows(at(wasm, dh), at(wasm, dh), at(wasm, dy!), N, D);
  wasm.disposeData(scaled.dataId);
  return [dh, dw];
};

/** This family's kernels by name. */
export const headLossKernels = (blas: Blas): [string, tf.KernelFunc][] => [
  [FUSED.headCrossEntropy, headLoss(blas) as tf.KernelFunc],
  [gradOf(FUSED.headCrossEntropy), headLossGrad(blas) as tf.KernelFunc],
];
