// Registering the cuda backend and its kernels with tfjs. The backend is not yet picked by
// initBackend('auto'): it joins once it runs a whole training step (issue 5); tests register it.
import * as tf from '@tensorflow/tfjs';
import { CudaBackend } from './backend.js';
import { BINARY_OPS, binarySource, broadcastStruct, COMPARISON_OPS, cType, UNARY_OPS, unarySource } from './kernels/elementwise.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

function binaryKernel(name: string): tf.KernelFunc {
  const comparison = name in COMPARISON_OPS;
  return ({ inputs, backend }: KernelArgs) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const cuda = backend as CudaBackend;
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const t = cType(a.dtype);
    const out = cuda.allocate(shape, comparison ? 'bool' : a.dtype);
    const n = shape.reduce((x, y) => x * y, 1);
    cuda.launchElementwise(binarySource(name, t, comparison ? 'int' : t), name, n, [
      cuda.pointer(out), cuda.pointer(a), cuda.pointer(b), { struct: broadcastStruct(shape, a.shape, b.shape) }, { i32: n },
    ]);
    return out;
  };
}

function unaryKernel(name: string): tf.KernelFunc {
  return ({ inputs, backend }: KernelArgs) => {
    const { x } = inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32') throw new Error(`cuda backend: ${name} on ${x.dtype} is not supported yet, expected float32`);
    const cuda = backend as CudaBackend;
    const out = cuda.allocate(x.shape, 'float32');
    const n = x.shape.reduce((p, q) => p * q, 1);
    cuda.launchElementwise(unarySource(name), name, n, [cuda.pointer(out), cuda.pointer(x), { i32: n }]);
    return out;
  };
}

let registered = false;

/** Register the 'cuda' backend factory and its kernels (once). tfjs never picks it by itself. */
export function registerCudaBackend(): void {
  if (registered) return;
  registered = true;
  tf.registerBackend('cuda', () => new CudaBackend(), -1);
  for (const name of [...Object.keys(BINARY_OPS), ...Object.keys(COMPARISON_OPS)]) {
    tf.registerKernel({ kernelName: name, backendName: 'cuda', kernelFunc: binaryKernel(name) });
  }
  for (const name of Object.keys(UNARY_OPS)) tf.registerKernel({ kernelName: name, backendName: 'cuda', kernelFunc: unaryKernel(name) });
}
