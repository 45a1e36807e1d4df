// Quantized projections on the GPU (lib/model/quantized-linear.ts): the weight stays in its Q8_0 / Q4_0
// blocks in device memory. Two kernels read them:
// - dequantize: every weight to float32, for cuBLAS to multiply a prompt or a batch (compute-bound);
// - quantized_matvec: y = x·Wᵀ for the few rows of a decoding step (memory-bound), reading each block
//   once and never writing the float32 weight: 4-7× fewer bytes moved than a float32 product.
// The blocks run along the flattened weight (rows·cols values, 32 per block), so a row need not be a
// whole number of blocks; weight i is value i % 32 of block i / 32, as lib/quant lays them out.
import * as tf from '@tensorflow/tfjs';
import { QUANTIZED, QUANTIZED_MATVEC_MAX_ROWS } from '../../../model/fused.js';
import { QUANT_FORMATS, type QuantType } from '../../../quant/types.js';
import type { CudaBackend } from '../backend.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Output rows each block of quantized_matvec computes: one warp per row. */
const ROWS_PER_BLOCK = 8;

/** Values of one weight, by format: the float16 scale d times the stored level. */
const WEIGHT: Record<QuantType, string> = {
  q8_0: `
  const unsigned char* block = blocks + (i >> 5) * ${QUANT_FORMATS.q8_0.blockBytes};
  return half_to_float(block[0] | (block[1] << 8)) * (float)(signed char)block[2 + (i & 31)];`,
  q4_0: `
  const unsigned char* block = blocks + (i >> 5) * ${QUANT_FORMATS.q4_0.blockBytes};
  int j = (int)(i & 31);  // values 0-15 in the low nibbles of bytes 0-15, values 16-31 in the high ones
  int q = j < 16 ? (block[2 + j] & 15) : (block[2 + j - 16] >> 4);
  return half_to_float(block[0] | (block[1] << 8)) * (float)(q - 8);`,
};

/** The CUDA source of both kernels for one format. */
export function quantizedSource(type: QuantType): string {
  return `
// IEEE half → float by its bits: sign, 5-bit exponent (bias 15), 10-bit mantissa.
__device__ __forceinline__ float half_to_float(unsigned int h) {
  unsigned int sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0) return (sign ? -1.0f : 1.0f) * mantissa * 5.9604644775390625e-8f;  // subnormal: m·2⁻²⁴
  unsigned int bits = exponent == 31 ? (sign | 0x7f800000u | (mantissa << 13)) : (sign | ((exponent + 112) << 23) | (mantissa << 13));
  return __uint_as_float(bits);
}

__device__ __forceinline__ float weight(const unsigned char* blocks, long long i) {${WEIGHT[type]}
}

extern "C" __global__ void dequantize_${type}(float* out, const unsigned char* blocks, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) out[i] = weight(blocks, i);
}

// y [N, rows] = x [N, cols] · Wᵀ, N ≤ ${QUANTIZED_MATVEC_MAX_ROWS}: warp w of the block computes row r of every y row;
// its lanes walk the row's weights 32 at a time (neighbouring bytes), each weight read once for all N.
extern "C" __global__ void quantized_matvec_${type}(float* y, const float* x, const unsigned char* blocks, int N, int rows, int cols) {
  int r = blockIdx.x * ${ROWS_PER_BLOCK} + threadIdx.x / 32, lane = threadIdx.x & 31;
  if (r >= rows) return;
  float acc[${QUANTIZED_MATVEC_MAX_ROWS}];
  #pragma unroll
  for (int n = 0; n < ${QUANTIZED_MATVEC_MAX_ROWS}; n++) acc[n] = 0.0f;
  const long long row = (long long)r * cols;
  for (int j = lane; j < cols; j += 32) {
    float w = weight(blocks, row + j);
    #pragma unroll
    for (int n = 0; n < ${QUANTIZED_MATVEC_MAX_ROWS}; n++) if (n < N) acc[n] += x[(long long)n * cols + j] * w;
  }
  #pragma unroll
  for (int n = 0; n < ${QUANTIZED_MATVEC_MAX_ROWS}; n++) {
    float s = acc[n];
    for (int offset = 16; offset > 0; offset >>= 1) s += __shfl_down_sync(0xffffffffu, s, offset);
    if (lane == 0 && n < N) y[(long long)n * rows + r] = s;
  }
}
`;
}

/** The format of a kernel call's `type` attribute (a GGML type number). */
function formatOf(ggmlType: number): QuantType {
  const entry = Object.entries(QUANT_FORMATS).find(([, f]) => f.ggmlType === ggmlType);
  if (!entry) throw new Error(`cuda backend: no quantized kernels for GGML type ${ggmlType}`);
  return entry[0] as QuantType;
}

const dequantize: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { blocks } = inputs as { blocks: tf.TensorInfo };
  const { type, rows, cols } = attrs as { type: number; rows: number; cols: number };
  const cuda = backend as CudaBackend;
  const format = formatOf(type);
  const out = cuda.allocate([rows, cols], 'float32');
  cuda.launchElementwise(quantizedSource(format), `dequantize_${format}`, rows * cols, [cuda.pointer(out), cuda.pointer(blocks), BigInt(rows * cols)]);
  return out;
};

const matVec: tf.KernelFunc = ({ inputs, backend, attrs }: KernelArgs) => {
  const { x, blocks } = inputs as { x: tf.TensorInfo; blocks: tf.TensorInfo };
  const { type, rows, cols } = attrs as { type: number; rows: number; cols: number };
  const N = x.shape[0]!;
  if (x.shape.length !== 2 || x.shape[1] !== cols || N > QUANTIZED_MATVEC_MAX_ROWS) throw new Error(`cuda backend: quantized matvec takes x [≤${QUANTIZED_MATVEC_MAX_ROWS}, ${cols}], got [${x.shape}]`);
  const cuda = backend as CudaBackend;
  const format = formatOf(type);
  const y = cuda.allocate([N, rows], 'float32');
  if (N > 0) {
    cuda.launch(quantizedSource(format), `quantized_matvec_${format}`, Math.ceil(rows / ROWS_PER_BLOCK), 32 * ROWS_PER_BLOCK, [
      cuda.pointer(y), cuda.pointer(x), cuda.pointer(blocks), { i32: N }, { i32: rows }, { i32: cols },
    ]);
  }
  return y;
};

/** This family's tfjs kernels by name. */
export const QUANTIZED_KERNELS: [string, tf.KernelFunc][] = [[QUANTIZED.dequantize, dequantize], [QUANTIZED.matVec, matVec]];
