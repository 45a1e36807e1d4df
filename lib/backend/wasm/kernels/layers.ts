// Fused kernels of the layer building blocks on the CPU (see lib/model/fused.ts): RMSNorm, SwiGLU's
// gating, RoPE and the causal attention softmax, each with its backward, and the AdamW update — one
// SIMD pass (simd/kernels.c) in place of the 4–12 tfjs ops, each a pass and a new tensor, of the plain
// composition, which stays the reference the tests compare with.
import * as tf from '@tensorflow/tfjs';
import { FUSED, gradOf } from '../../../model/fused.js';
import { at, f32, type WasmBackend } from '../heap.js';
import { simd } from '../simd.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

const size = (t: tf.TensorInfo) => tf.util.sizeFromShape(t.shape);
/** The last two sizes of a tensor: [rows per sequence, row length] for the row kernels. */
const lastTwo = (t: tf.TensorInfo) => t.shape.slice(-2) as [number, number];

/** New float32 outputs shaped like `shapes`; `body` gets the backend and their heap offsets to fill them. */
function withOutputs(backend: object, shapes: number[][], body: (w: WasmBackend, out: number[]) => void): tf.TensorInfo[] {
  const wasm = backend as WasmBackend;
  const outs = shapes.map((shape) => wasm.makeOutput(shape, 'float32'));
  body(wasm, outs.map((t) => at(wasm, t)));
  return outs;
}

const rmsNorm: Kernel = ({ inputs: { x, weight }, backend, attrs }) => withOutputs(backend, [x!.shape], (w, [y]) => {
  const D = weight!.shape[0]!;
  simd(w).rms_norm(y!, at(w, x!), at(w, weight!), size(x!) / D, D, attrs!.eps as number);
})[0]!;

const rmsNormGrad: Kernel = ({ inputs: { dy, x, weight }, backend, attrs }) => withOutputs(backend, [x!.shape, weight!.shape], (w, [dx, dw]) => {
  const D = weight!.shape[0]!;
  simd(w).rms_norm_grad(dx!, dw!, at(w, dy!), at(w, x!), at(w, weight!), size(x!) / D, D, attrs!.eps as number);
});

const swiglu: Kernel = ({ inputs: { gate, up }, backend }) => withOutputs(backend, [gate!.shape], (w, [h]) => {
  simd(w).swiglu(h!, at(w, gate!), at(w, up!), size(gate!));
})[0]!;

const swigluGrad: Kernel = ({ inputs: { dy, gate, up }, backend }) => withOutputs(backend, [gate!.shape, up!.shape], (w, [dg, du]) => {
  simd(w).swiglu_grad(dg!, du!, at(w, dy!), at(w, gate!), at(w, up!), size(gate!));
});

/** x [B, H, T, Dh] at positions offset…; attrs {offset, inverse}. */
const rope: Kernel = ({ inputs: { x, cos, sin }, backend, attrs }) => withOutputs(backend, [x!.shape], (w, [out]) => {
  const [T, Dh] = lastTwo(x!);
  simd(w).rope(out!, at(w, x!), at(w, cos!), at(w, sin!), size(x!) / Dh, T, Dh, attrs!.offset as number, attrs!.inverse ? -1 : 1);
})[0]!;

/** scores [B, H, T, S]; attrs {scale, offset}. */
const causalSoftmax: Kernel = ({ inputs: { scores }, backend, attrs }) => withOutputs(backend, [scores!.shape], (w, [p]) => {
  const [T, S] = lastTwo(scores!);
  simd(w).causal_softmax(p!, at(w, scores!), size(scores!) / S, T, S, attrs!.offset as number, attrs!.scale as number);
})[0]!;

const causalSoftmaxGrad: Kernel = ({ inputs: { dy, probs }, backend, attrs }) => withOutputs(backend, [probs!.shape], (w, [ds]) => {
  const [T, S] = lastTwo(probs!);
  simd(w).causal_softmax_grad(ds!, at(w, dy!), at(w, probs!), size(probs!) / S, T, S, attrs!.offset as number, attrs!.scale as number);
})[0]!;

/**
 * In place on {param0, grad0, m0, v0, param1, …}, every gradient multiplied by the scalar `scale`, with
 * stepSize [lr, correction1, correction2]; attrs {beta1, beta2, eps, decay: number[] (each parameter's
 * weight decay, 0 for none)}.
 */
const adamw: Kernel = ({ inputs, backend, attrs }) => {
  const w = backend as unknown as WasmBackend;
  const a = attrs as Record<string, number> & { decay: number[] };
  const [[scale], [lr, correction1, correction2]] = f32(w, [inputs.scale!, inputs.stepSize!]) as [Float32Array, Float32Array];
  a.decay.forEach((decay, j) => {
    const [param, grad, m, v] = ['param', 'grad', 'm', 'v'].map((name) => inputs[`${name}${j}`]!);
    simd(w).adamw(at(w, param!), at(w, grad!), at(w, m!), at(w, v!), size(param!), lr!, a.beta1, a.beta2, a.eps, 1 - lr! * decay, correction1!, correction2!, scale!);
  });
  return [];
};

/** inputs: any number of tensors: a scalar, the sum of all their squared values (summed in float64). */
const squaredNorm: Kernel = ({ inputs, backend }) => {
  const w = backend as unknown as WasmBackend;
  let total = 0;
  for (const x of f32(w, Object.values(inputs) as tf.TensorInfo[])) for (let i = 0; i < x.length; i++) total += x[i]! * x[i]!;
  const out = w.makeOutput([], 'float32');
  f32(w, [out])[0]![0] = total;
  return out;
};

/** This family's kernels by name. */
export const LAYER_KERNELS: [string, Kernel][] = [
  [FUSED.rmsNorm, rmsNorm], [gradOf(FUSED.rmsNorm), rmsNormGrad],
  [FUSED.swiglu, swiglu], [gradOf(FUSED.swiglu), swigluGrad],
  [FUSED.rope, rope],
  [FUSED.causalSoftmax, causalSoftmax], [gradOf(FUSED.causalSoftmax), causalSoftmaxGrad],
  [FUSED.adamw, adamw], [FUSED.squaredNorm, squaredNorm],
];
