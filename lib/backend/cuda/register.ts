// Registering the cuda backend and its kernels with tfjs. The backend is not yet picked by
// initBackend('auto'): it joins once it runs a whole training step (issue 5); tests register it.
import * as tf from '@tensorflow/tfjs';
import { CudaBackend } from './backend.js';
import { castKernelName, castSource } from './kernels/cast.js';
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

/** The same data under another shape: no copy, one more reference (tfjs disposes each tensor once). */
function sameData(x: tf.TensorInfo, shape: number[], backend: unknown): tf.TensorInfo {
  (backend as CudaBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape, dtype: x.dtype };
}

const reshape: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const size = x.shape.reduce((a, b) => a * b, 1);
  const shape = tf.util.inferFromImplicitShape(attrs!.shape as number[], size);
  return sameData(x, shape, backend);
};

const identity: tf.KernelFunc = ({ inputs, backend }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  return sameData(x, x.shape, backend);
};

const cast: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const dtype = attrs!.dtype as tf.DataType;
  if (dtype === x.dtype) return sameData(x, x.shape, backend);
  const cuda = backend as CudaBackend;
  const [from, to] = [cType(x.dtype), dtype === 'bool' ? 'bool' : cType(dtype)] as const;
  const out = cuda.allocate(x.shape, dtype);
  const n = x.shape.reduce((a, b) => a * b, 1);
  cuda.launchElementwise(castSource(from, to), castKernelName(from, to), n, [cuda.pointer(out), cuda.pointer(x), { i32: n }]);
  return out;
};

/** Batched matrix product through cuBLAS; a batch of size 1 is reused for every batch of the other. */
const batchMatMul: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`cuda backend: BatchMatMul on ${a.dtype}×${b.dtype} is not supported, expected float32`);
  const last2 = (s: number[], t: boolean) => (t ? [s[s.length - 1]!, s[s.length - 2]!] : [s[s.length - 2]!, s[s.length - 1]!]);
  const [m, k] = last2(a.shape, transposeA);
  const [kb, n] = last2(b.shape, transposeB);
  if (k !== kb) throw new Error(`cuda backend: BatchMatMul inner sizes differ: [${a.shape}]${transposeA ? 'ᵀ' : ''} · [${b.shape}]${transposeB ? 'ᵀ' : ''}`);
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  const batchShape = tf.backend_util.assertAndGetBroadcastShape(batchA, batchB);
  const [batch, sizeA, sizeB] = [batchShape, batchA, batchB].map((s) => s.reduce((x, y) => x * y, 1)) as [number, number, number];
  if ((sizeA !== batch && sizeA !== 1) || (sizeB !== batch && sizeB !== 1)) {
    throw new Error(`cuda backend: BatchMatMul batch shapes [${batchA}] and [${batchB}] broadcast partially, which is not supported`);
  }
  const cuda = backend as CudaBackend;
  const out = cuda.allocate([...batchShape, m!, n!], 'float32');
  if (batch * m! * n! === 0) return out;
  cuda.cublas.gemm({
    m: m!, n: n!, k: k!, transposeA, transposeB, a: cuda.pointer(a), b: cuda.pointer(b), c: cuda.pointer(out),
    strideA: sizeA === 1 ? 0 : m! * k!, strideB: sizeB === 1 ? 0 : k! * n!, batch, compute: 'fp32',
  });
  return out;
};

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
  const kernels: [string, tf.KernelFunc][] = [['Reshape', reshape], ['Identity', identity], ['Cast', cast], ['BatchMatMul', batchMatMul]];
  for (const [kernelName, kernelFunc] of kernels) tf.registerKernel({ kernelName, backendName: 'cuda', kernelFunc });
}
