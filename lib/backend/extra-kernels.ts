// What the official cpu and wasm backends lack or do slowly, fixed at the backend so that one model
// definition trains well on both:
// - UnsortedSegmentSum, the gradient of gather (so of every embedding): missing in wasm, and in cpu a
//   loop over all segments (6.2 s of a 32-token nano step with 6,400 tokens). Ours is one pass in
//   plain JavaScript over the values.
// - wasm BatchMatMul with transposed operands: 7–17× slower than transposing first (measured on a
//   [1024, 128]·[128, 6400] product), and every linear layer's forward and backward uses one.
import * as tf from '@tensorflow/tfjs';

type Values = Float32Array | Int32Array;

interface CpuBackend {
  readSync(dataId: object): ArrayLike<number>;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Values): tf.TensorInfo;
}

interface WasmBackend {
  readSync(dataId: object): ArrayLike<number>;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Values): tf.TensorInfo;
  disposeData(dataId: object): void;
}

/** How each backend turns computed values into an output tensor. */
export const MAKE_OUTPUT: Record<'cpu' | 'wasm', (backend: unknown, shape: number[], dtype: tf.DataType, values: Values) => tf.TensorInfo> = {
  cpu: (backend, shape, dtype, values) => (backend as CpuBackend).makeTensorInfo(shape, dtype, values),
  wasm: (backend, shape, dtype, values) => (backend as WasmBackend).makeOutput(shape, dtype, undefined, values),
};

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** out[segmentIds[j], …] += x[j, …] for x [S, …rest] (segmentIds of size S): out [numSegments, …rest]. */
const unsortedSegmentSum = (backendName: 'cpu' | 'wasm') => (args: KernelArgs): tf.TensorInfo => {
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = args.attrs!.numSegments as number;
  const backend = args.backend as CpuBackend | WasmBackend;
  const values = backend.readSync(x.dataId);
  const ids = backend.readSync(segmentIds.dataId);
  const rest = x.shape.slice(segmentIds.shape.length);
  const inner = tf.util.sizeFromShape(rest);
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let j = 0; j < ids.length; j++) {
    const segment = ids[j]!;
    if (segment < 0 || segment >= numSegments) continue; // as TensorFlow: out-of-range ids are dropped
    for (let t = 0; t < inner; t++) out[segment * inner + t]! += values[j * inner + t]!;
  }
  return MAKE_OUTPUT[backendName](backend, [numSegments, ...rest], x.dtype, out);
};

/** BatchMatMul that transposes operands with the Transpose kernel, then multiplies untransposed. */
function explicitTransposes(matMul: tf.KernelFunc, transpose: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs): tf.TensorInfo => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const attrs = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (!attrs.transposeA && !attrs.transposeB) return matMul(args) as tf.TensorInfo;
    const backend = args.backend as WasmBackend;
    const swapLastTwo = (x: tf.TensorInfo): tf.TensorInfo => {
      const perm = x.shape.map((_, i) => i);
      [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1]!, perm[perm.length - 2]!];
      return transpose({ inputs: { x }, backend: args.backend, attrs: { perm } }) as tf.TensorInfo;
    };
    const a2 = attrs.transposeA ? swapLastTwo(a) : a;
    const b2 = attrs.transposeB ? swapLastTwo(b) : b;
    const out = matMul({ inputs: { a: a2, b: b2 }, backend: args.backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
    for (const t of [a2, b2]) if (t !== a && t !== b) backend.disposeData(t.dataId);
    return out;
  };
}

let registered = false;

/** Add and replace the kernels described above (once, before the backends start). */
export function registerExtraKernels(): void {
  if (registered) return;
  registered = true;
  for (const backendName of ['cpu', 'wasm'] as const) {
    if (tf.getKernel('UnsortedSegmentSum', backendName)) tf.unregisterKernel('UnsortedSegmentSum', backendName);
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName, kernelFunc: unsortedSegmentSum(backendName) });
  }
  const matMul = tf.getKernel('BatchMatMul', 'wasm')!;
  const transpose = tf.getKernel('Transpose', 'wasm')!;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  // setupFunc binds the wasm functions when the backend starts: keep the original's.
  tf.registerKernel({ ...matMul, kernelFunc: explicitTransposes(matMul.kernelFunc, transpose.kernelFunc) });
}
