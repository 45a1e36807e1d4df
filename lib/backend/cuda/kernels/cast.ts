// Cast between float32, int32 and bool (all stored as 4-byte values on the device).
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../backend.js';
import { cType } from './elementwise.js';
import { sameData } from './layout.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The CUDA source converting elements of type `from` to `to`; bool means "not zero". */
export function castSource(from: 'float' | 'int', to: 'float' | 'int' | 'bool'): string {
  const name = castKernelName(from, to);
  const expr = to === 'bool' ? '(int)(x != 0)' : `(${to})x`;
  return `extern "C" __global__ void ${name}(${to === 'bool' ? 'int' : to}* out, const ${from}* in, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    ${from} x = in[i];
    out[i] = ${expr};
  }
}
`;
}

/** The kernel's name, e.g. cast_float_int. */
export function castKernelName(from: string, to: string): string {
  return `cast_${from}_${to}`;
}

const cast: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const dtype = attrs!.dtype as tf.DataType;
  if (dtype === x.dtype) return sameData(x, x.shape, backend);
  const cuda = backend as CudaBackend;
  const [from, to] = [cType(x.dtype), dtype === 'bool' ? 'bool' : cType(dtype)] as const;
  const out = cuda.allocate(x.shape, dtype);
  const n = tf.util.sizeFromShape(x.shape);
  cuda.launchElementwise(castSource(from, to), castKernelName(from, to), n, [cuda.pointer(out), cuda.pointer(x), { i32: n }]);
  return out;
};

/** This family's tfjs kernels by name. */
export const CAST_KERNELS: [string, tf.KernelFunc][] = [['Cast', cast]];
