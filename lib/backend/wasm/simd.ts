// The SIMD kernels of simd/kernels.c, instantiated on the wasm backend's own memory: their pointers are
// byte offsets of tensors in that heap (heap.ts's `at`), so nothing is copied in or out.
import type { WasmBackend } from './heap.js';
import { KERNELS_WASM } from './simd/kernels-wasm.js';

// Node has WebAssembly; TypeScript's ES2022 library does not declare it (the DOM library does).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
};

/** The exported kernels; see kernels.c for what each computes. Pointers are heap byte offsets. */
export interface SimdKernels {
  cross_entropy_rows(x: number, targets: number, loss: number, rows: number, V: number, classes: number): void;
  scale_rows(out: number, x: number, dy: number, rows: number, D: number): void;
  causal_softmax(p: number, s: number, rows: number, T: number, S: number, offset: number, scale: number): void;
  causal_softmax_grad(ds: number, dp: number, p: number, rows: number, T: number, S: number, offset: number, scale: number): void;
  swiglu(h: number, g: number, u: number, n: number): void;
  swiglu_grad(dg: number, du: number, dy: number, g: number, u: number, n: number): void;
  rms_norm(y: number, x: number, w: number, rows: number, D: number, eps: number): void;
  rms_norm_grad(dx: number, dw: number, dy: number, x: number, w: number, rows: number, D: number, eps: number): void;
  rope(out: number, x: number, cos: number, sin: number, rows: number, T: number, Dh: number, offset: number, sign: number): void;
  gather_rows(out: number, x: number, ids: number, outer: number, dim: number, n: number, inner: number): void;
  segment_sum_rows(out: number, x: number, ids: number, n: number, segments: number, inner: number): void;
  quantized_matvec(y: number, x: number, blocks: number, N: number, rows: number, cols: number, q4: number): void;
  adamw(p: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number, eps: number,
    decay: number, c1: number, c2: number, gradScale: number): void;
}

const compiled = new WebAssembly.Module(Buffer.from(KERNELS_WASM, 'base64'));
const instances = new WeakMap<object, SimdKernels>();

/** The kernels working in `backend`'s heap (one instance per backend). */
export function simd(backend: WasmBackend): SimdKernels {
  let kernels = instances.get(backend);
  if (!kernels) {
    const instance = new WebAssembly.Instance(compiled, { env: { memory: backend.wasm.asm.memory } });
    kernels = instance.exports as unknown as SimdKernels;
    instances.set(backend, kernels);
  }
  return kernels;
}
