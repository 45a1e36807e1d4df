// Fused ops: one GPU kernel (and one for its gradient) in place of a chain of small tfjs ops. A
// backend opts in by registering kernels under these names — the cuda backend does; cpu and wasm do
// not — and lib/model then calls them instead of the plain composition, which stays the reference
// (the GPU suite compares fused ops on cuda with the plain ones on cpu). The gradients are registered
// here, once, for every backend.
import * as tf from '@tensorflow/tfjs';

/** Names of the fused kernels, which lib/model and every backend that implements them import (see gradOf). */
export const FUSED = {
  rmsNorm: 'TinyRmsNorm',
  addRmsNorm: 'TinyAddRmsNorm',
  swiglu: 'TinySwiGlu',
  rope: 'TinyRope',
  causalSoftmax: 'TinyCausalSoftmax',
  attention: 'TinyAttention',
  headCrossEntropy: 'TinyHeadCrossEntropy',
  adamw: 'TinyAdamW',
  squaredNorm: 'TinySquaredNorm',
  projections: 'TinyProjections',
} as const;

/** The backward kernel of fused op `name` (RoPE's backward is RoPE itself; the optimizer's ops have none). */
export const gradOf = (name: string): string => `${name}Grad`;

/** Fused ops without a backward kernel: RoPE (its own inverse) and the optimizer's, which are not differentiated. */
const WITHOUT_GRAD: readonly string[] = [FUSED.rope, FUSED.adamw, FUSED.squaredNorm];

/** Every kernel name a backend with all the fused ops registers: each op, and the backward of those that have one. */
export const FUSED_KERNEL_NAMES: readonly string[] = Object.values(FUSED).flatMap((name) => (WITHOUT_GRAD.includes(name) ? [name] : [name, gradOf(name)]));

/** Head sizes the fused attention takes: whole 16-deep tensor-core steps, up to 128; others use the plain ops. */
export function fusedAttentionHeadDim(headDim: number): boolean {
  return headDim % 16 === 0 && headDim > 0 && headDim <= 128;
}

/** Whether the active backend has the fused kernel `name`. */
export function hasFused(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Run a fused kernel through the engine, so that it is recorded for gradients. */
export function runFused<T extends tf.Tensor>(name: string, inputs: tf.NamedTensorMap, attrs: Record<string, number | boolean> = {}): T {
  return tf.engine().runKernel(name, inputs, attrs) as T;
}

/** The backend's implementation of a kernel, to call outside the engine (in-place updates such as AdamW). */
export function fusedKernel(name: string): tf.KernelFunc | null {
  return hasFused(name) ? tf.getKernel(name, tf.getBackend())!.kernelFunc : null;
}

const grad = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}) =>
  tf.engine().runKernel(gradOf(name), inputs, attrs as Record<string, number>) as tf.Tensor | tf.Tensor[];

tf.registerGradient({
  kernelName: FUSED.rmsNorm,
  inputsToSave: ['x', 'weight'],
  gradFunc: (dy, saved, attrs) => {
    const [x, weight] = saved as [tf.Tensor, tf.Tensor];
    const [dx, dweight] = grad(FUSED.rmsNorm, { dy: dy as tf.Tensor, x, weight }, attrs) as tf.Tensor[];
    return { x: () => dx!, weight: () => dweight! };
  },
});

// Both inputs of the sum get the same gradient: the sum's own (from the next layer) plus what flows back
// through the norm — added by the backward kernel itself, so the residual stream needs no Add of its own.
tf.registerGradient({
  kernelName: FUSED.addRmsNorm,
  inputsToSave: ['weight'],
  outputsToSave: [true, false],
  gradFunc: (dys, saved, attrs) => {
    const [dsum, dnormed] = dys as tf.Tensor[];
    const [weight, sum] = saved as [tf.Tensor, tf.Tensor];
    const [dx, dweight] = grad(FUSED.addRmsNorm, { dy: dnormed!, x: sum, weight, residual: dsum! }, attrs) as tf.Tensor[];
    return { h: () => dx!, delta: () => tf.clone(dx!), weight: () => dweight! };
  },
});

tf.registerGradient({
  kernelName: FUSED.swiglu,
  inputsToSave: ['gate', 'up'],
  gradFunc: (dy, saved) => {
    const [gate, up] = saved as [tf.Tensor, tf.Tensor];
    const [dgate, dup] = grad(FUSED.swiglu, { dy: dy as tf.Tensor, gate, up }) as tf.Tensor[];
    return { gate: () => dgate!, up: () => dup! };
  },
});

// A rotation's gradient is the opposite rotation: the same kernel with the angle negated.
tf.registerGradient({
  kernelName: FUSED.rope,
  inputsToSave: ['cos', 'sin'],
  gradFunc: (dy, saved, attrs) => {
    const [cos, sin] = saved as [tf.Tensor, tf.Tensor];
    return { x: () => runFused(FUSED.rope, { x: dy as tf.Tensor, cos, sin }, { ...(attrs as Record<string, number>), inverse: !attrs!.inverse }) };
  },
});

tf.registerGradient({
  kernelName: FUSED.causalSoftmax,
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => ({ scores: () => grad(FUSED.causalSoftmax, { dy: dy as tf.Tensor, probs: saved[0]! }, attrs) as tf.Tensor }),
});

// The output's tail keeps what the backward kernel needs besides v: each row's log-sum-exp and q and k
// as the forward rotated them — so q and k themselves are not kept.
tf.registerGradient({
  kernelName: FUSED.attention,
  inputsToSave: ['v', 'cos', 'sin'],
  outputsToSave: [true],
  gradFunc: (dy, saved) => {
    const [v, cos, sin, out] = saved as tf.Tensor[];
    const [dq, dk, dv] = grad(FUSED.attention, { dy: dy as tf.Tensor, v: v!, cos: cos!, sin: sin!, out: out! }) as tf.Tensor[];
    return { q: () => dq!, k: () => dk!, v: () => dv! };
  },
});

// The projections of one input (projectAll in linear.ts), inputs [x, W_0, W_1, …] as an array: the
// backward kernel returns x's gradient already summed over the projections; each weight's is a plain
// product, which tfjs asks for only when the weight trains.
tf.registerGradient({
  kernelName: FUSED.projections,
  saveAllInputs: true,
  gradFunc: (dys, saved) => {
    const outputGrads = Array.isArray(dys) ? dys : [dys]; // (one output's arrives alone)
    const [x, ...weights] = saved as tf.Tensor[];
    const dx = () => grad(FUSED.projections, [...saved, ...outputGrads] as unknown as tf.NamedTensorMap) as tf.Tensor;
    return { 0: dx, ...Object.fromEntries(weights.map((_, i) => [i + 1, () => tf.matMul(outputGrads[i]!, x!, true, false)])) };
  },
});

// The per-token losses keep the logits' gradient in their tail, for the backward kernel.
tf.registerGradient({
  kernelName: FUSED.headCrossEntropy,
  inputsToSave: ['h', 'weight'],
  outputsToSave: [true],
  gradFunc: (dy, saved) => {
    const [h, weight, loss] = saved as tf.Tensor[];
    const [dh, dweight] = grad(FUSED.headCrossEntropy, { dy: dy as tf.Tensor, h: h!, weight: weight!, loss: loss! }) as tf.Tensor[];
    return { h: () => dh!, weight: () => dweight! };
  },
});

/**
 * Kernels of quantized projections (lib/model/quantized-linear.ts): unpacking blocks into a float32
 * weight, and a product that reads the packed blocks directly for the few rows of a decoding step.
 * Every backend we use registers both (cpu and wasm in JavaScript, lib/backend/quantized-kernels.ts).
 */
export const QUANTIZED = {
  dequantize: 'TinyDequantize',
  matVec: 'TinyQuantizedMatVec',
} as const;

/** Rows of x up to which a quantized product reads the blocks directly (a decoding step of up to 8 sequences). */
export const QUANTIZED_MATVEC_MAX_ROWS = 8;

// y = x·Wᵀ reads W from the blocks, so dx = dy·W: unpack W and multiply (the blocks get no gradient).
tf.registerGradient({
  kernelName: QUANTIZED.matVec,
  inputsToSave: ['blocks'],
  gradFunc: (dy, saved, attrs) => {
    const [blocks] = saved as [tf.Tensor];
    return { x: () => tf.matMul(dy as tf.Tensor, runFused(QUANTIZED.dequantize, { blocks }, attrs as Record<string, number>)) };
  },
});

/**
 * Kernels of the preallocated KV cache (lib/model/kv-cache.ts): writing a step's keys and values into
 * their slots in place, and attention of a few new positions over a cache row. Inference only (no
 * gradients); every backend we use registers both (cpu and wasm in lib/backend/kv-cache-kernels.ts).
 */
export const KV_CACHE = {
  write: 'TinyKvCacheWrite',
  attend: 'TinyKvCacheAttention',
} as const;
