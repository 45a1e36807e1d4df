// Element-wise kernels: unary ops (exp, log, …) and binary ops with NumPy broadcasting (add, mul, >, …).
// One CUDA source per op, made from a template and the op's expression; T is the element type.
// Broadcasting: each output index is split into coordinates, and each input is read through its own
// strides, 0 along a broadcast dimension.

import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../backend.js';
import { loadFrom } from './bf16.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Binary ops: tfjs kernel name -> C expression of a and b. */
export const BINARY_OPS: Record<string, string> = {
  Add: 'a + b',
  Sub: 'a - b',
  Multiply: 'a * b',
  RealDiv: 'a / b',
  Maximum: 'max(a, b)',
  Minimum: 'min(a, b)',
  Pow: '(T)powf((float)a, (float)b)',
  SquaredDifference: '(a - b) * (a - b)',
};

/** Comparisons and logic: their output is bool (stored as int 0/1). */
export const COMPARISON_OPS: Record<string, string> = {
  Greater: 'a > b',
  GreaterEqual: 'a >= b',
  Less: 'a < b',
  LessEqual: 'a <= b',
  Equal: 'a == b',
  NotEqual: 'a != b',
  LogicalAnd: 'a && b',
  LogicalOr: 'a || b',
};

/** Unary ops on float32: tfjs kernel name -> C expression of x. */
export const UNARY_OPS: Record<string, string> = {
  Exp: 'expf(x)',
  Log: 'logf(x)',
  Neg: '-x',
  Sqrt: 'sqrtf(x)',
  Rsqrt: 'rsqrtf(x)',
  Sigmoid: '1.0f / (1.0f + expf(-x))',
  Square: 'x * x',
  Abs: 'fabsf(x)',
  Relu: 'fmaxf(x, 0.0f)',
  Tanh: 'tanhf(x)',
  Sin: 'sinf(x)',
  Cos: 'cosf(x)',
  Reciprocal: '1.0f / x',
  Floor: 'floorf(x)', // (tf.dropout's mask: floor(uniform + keep probability))
  // log(1 + eˣ) without overflow: max(x, 0) + log(1 + e^−|x|) (DPO's −log σ(z) is softplus(−z)).
  Softplus: 'fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)))',
};

/** Highest rank the broadcasting kernels take. */
export const MAX_RANK = 6;

/** C type of a tfjs dtype on the device (bool is stored as int 0/1). */
export function cType(dtype: string): 'float' | 'int' {
  return dtype === 'float32' ? 'float' : 'int';
}

/** The CUDA source of a binary op `name` on elements of type `t`, writing `out` elements. */
export function binarySource(name: string, t: 'float' | 'int', out: 'float' | 'int'): string {
  const expr = BINARY_OPS[name] ?? COMPARISON_OPS[name];
  if (!expr) throw new Error(`cuda backend: no binary kernel ${name}`);
  return `typedef ${t} T;
struct Broadcast { int rank; int dims[${MAX_RANK}]; int stridesA[${MAX_RANK}]; int stridesB[${MAX_RANK}]; };
// An input kept as bfloat16 only (a projection's output) is read from its copy: A or B is then null.
__device__ __forceinline__ T at(const T* x, const unsigned short* x16, int i) { return x ? x[i] : (T)__uint_as_float((unsigned)x16[i] << 16); }
extern "C" __global__ void ${name}(${out}* out, const T* A, const unsigned short* A16, const T* B, const unsigned short* B16, Broadcast s, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int ia = i, ib = i, rest = i;  // rank 0: nothing broadcasts
    if (s.rank > 0) ia = ib = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
      int c = rest % s.dims[d];
      rest /= s.dims[d];
      ia += c * s.stridesA[d];
      ib += c * s.stridesB[d];
    }
    T a = at(A, A16, ia), b = at(B, B16, ib);
    out[i] = (${out})(${expr});
  }
}
`;
}

/** The CUDA source of a unary float op `name`. */
export function unarySource(name: string): string {
  const expr = UNARY_OPS[name];
  if (!expr) throw new Error(`cuda backend: no unary kernel ${name}`);
  return `extern "C" __global__ void ${name}(float* out, const float* in, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    float x = in[i];
    out[i] = ${expr};
  }
}
`;
}

/**
 * The Broadcast struct for an output shape and two input shapes, as the kernel reads it: rank, the
 * output's dims, and per input the element stride along each output dimension (0 where broadcast).
 * When both inputs have the output's shape it is rank 0: element i of each, no index arithmetic.
 */
export function broadcastStruct(out: number[], a: number[], b: number[]): Int32Array {
  const s = new Int32Array(1 + 3 * MAX_RANK);
  if (tf.util.arraysEqual(a, out) && tf.util.arraysEqual(b, out)) return s;
  if (out.length > MAX_RANK) throw new Error(`cuda backend: rank ${out.length} > ${MAX_RANK} is not supported for broadcasting`);
  s[0] = Math.max(out.length, 1);
  const strides = (shape: number[]) => {
    const padded = [...Array(out.length - shape.length).fill(1), ...shape];
    const result = new Array<number>(out.length).fill(0);
    let stride = 1;
    for (let d = out.length - 1; d >= 0; d--) {
      result[d] = padded[d] === 1 ? 0 : stride;
      stride *= padded[d]!;
    }
    return result;
  };
  const [sa, sb] = [strides(a), strides(b)];
  for (let d = 0; d < MAX_RANK; d++) {
    s[1 + d] = d < out.length ? out[d]! : 1;
    s[1 + MAX_RANK + d] = d < out.length ? sa[d]! : 0;
    s[1 + 2 * MAX_RANK + d] = d < out.length ? sb[d]! : 0;
  }
  if (out.length === 0) s[1] = 1; // a scalar: one element
  return s;
}

function binaryKernel(name: string): tf.KernelFunc {
  const comparison = name in COMPARISON_OPS;
  return ({ inputs, backend }: KernelArgs) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const cuda = backend as CudaBackend;
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const t = cType(a.dtype);
    const out = cuda.allocate(shape, comparison ? 'bool' : a.dtype);
    const n = tf.util.sizeFromShape(shape);
    const [fromA, fromB] = [loadFrom(cuda, a), loadFrom(cuda, b)];
    cuda.launchElementwise(binarySource(name, t, comparison ? 'int' : t), name, n, [
      cuda.pointer(out), fromA.x, fromA.x16, fromB.x, fromB.x16, { struct: broadcastStruct(shape, a.shape, b.shape) }, { i32: n },
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
    const n = tf.util.sizeFromShape(x.shape);
    cuda.launchElementwise(unarySource(name), name, n, [cuda.pointer(out), cuda.pointer(x), { i32: n }]);
    return out;
  };
}

/** Sum of n same-shaped tensors (the gradient norm adds one term per parameter): n − 1 additions. */
const addN: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const list = Object.values(inputs) as tf.TensorInfo[];
  const cuda = backend as CudaBackend;
  const add = binaryKernel('Add');
  if (list.length === 1) {
    const [x] = list as [tf.TensorInfo];
    cuda.incRef(x.dataId); // one term: the same data, as Identity returns it
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }
  let sum = add({ inputs: { a: list[0]!, b: list[1]! }, backend, attrs }) as tf.TensorInfo;
  for (const x of list.slice(2)) {
    const next = add({ inputs: { a: sum, b: x }, backend, attrs }) as tf.TensorInfo;
    cuda.disposeData(sum.dataId);
    sum = next;
  }
  return sum;
};

/** This family's tfjs kernels by name. */
export const ELEMENTWISE_KERNELS: [string, tf.KernelFunc][] = [
  ['AddN', addN],
  ...[...Object.keys(BINARY_OPS), ...Object.keys(COMPARISON_OPS)].map((name): [string, tf.KernelFunc] => [name, binaryKernel(name)]),
  ...Object.keys(UNARY_OPS).map((name): [string, tf.KernelFunc] => [name, unaryKernel(name)]),
];
