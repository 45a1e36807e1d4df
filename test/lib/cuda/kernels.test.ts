// Every cuda kernel source compiles with NVRTC for sm_90 (no GPU needed), and the broadcasting strides
// are right.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileModule } from '../../../lib/backend/cuda/compile.js';
import { Nvrtc } from '../../../lib/backend/cuda/ffi/nvrtc.js';
import { castKernelName, castSource } from '../../../lib/backend/cuda/kernels/cast.js';
import { contiguousStrides, COPY_SOURCE, FILL_SOURCE } from '../../../lib/backend/cuda/kernels/layout.js';
import { REDUCTION_NAMES, reduceSource } from '../../../lib/backend/cuda/kernels/reduce.js';
import { ARG_MAX_SOURCE, GATHER_SOURCE, ONE_HOT_SOURCE, rangeSource, segmentSumSource, SELECT_SOURCE, SOFTMAX_SOURCE, TOP_K_SOURCE } from '../../../lib/backend/cuda/kernels/indexing.js';
import { ADAMW_SOURCE } from '../../../lib/backend/cuda/kernels/adamw.js';
import { RMS_NORM_GRAD_SOURCE, RMS_NORM_SOURCE, ROPE_SOURCE, SWIGLU_SOURCE } from '../../../lib/backend/cuda/kernels/fused-layers.js';
import { CAUSAL_SOFTMAX_SOURCE } from '../../../lib/backend/cuda/kernels/causal-softmax.js';
import { HEAD_LOSS_SOURCE } from '../../../lib/backend/cuda/kernels/head-loss.js';
import { flashBlocks, flashSource } from '../../../lib/backend/cuda/kernels/flash-attention.js';
import { MMA_PRECISION } from '../../../lib/backend/cuda/kernels/mma.js';
import { FROM_BF16_SOURCE, TO_BF16_SOURCE } from '../../../lib/backend/cuda/kernels/bf16.js';
import { quantizedSource } from '../../../lib/backend/cuda/kernels/quantized.js';
import { KV_CACHE_SOURCE } from '../../../lib/backend/cuda/kernels/kv-cache.js';
import { SQUARED_NORM_SOURCE } from '../../../lib/backend/cuda/kernels/squared-norm.js';
import { BINARY_OPS, binarySource, broadcastStruct, COMPARISON_OPS, MAX_RANK, UNARY_OPS, unarySource } from '../../../lib/backend/cuda/kernels/elementwise.js';

describe('kernel sources', () => {
  const nvrtc = new Nvrtc();
  const cache = mkdtempSync(join(tmpdir(), 'kernels-'));
  const sources: [string, string][] = [
    ...Object.keys(BINARY_OPS).flatMap((op) => (['float', 'int'] as const).map((t): [string, string] => [op, binarySource(op, t, t)])),
    ...Object.keys(COMPARISON_OPS).flatMap((op) => (['float', 'int'] as const).map((t): [string, string] => [op, binarySource(op, t, 'int')])),
    ...Object.keys(UNARY_OPS).map((op): [string, string] => [op, unarySource(op)]),
    ...(['float', 'int'] as const).flatMap((from) => (['float', 'int', 'bool'] as const).map((to): [string, string] => [castKernelName(from, to), castSource(from, to)])),
    ['copy_strided', COPY_SOURCE],
    ['fill', FILL_SOURCE],
    ...REDUCTION_NAMES.flatMap((op) => (['float', 'int'] as const).map((t): [string, string] => [op, reduceSource(op, t)])),
    ['gather', GATHER_SOURCE], ['one_hot', ONE_HOT_SOURCE], ['select', SELECT_SOURCE], ['softmax', SOFTMAX_SOURCE], ['top_k', TOP_K_SOURCE], ['arg_max', ARG_MAX_SOURCE],
    ...(['float', 'int'] as const).flatMap((t): [string, string][] => [[`segment_sum_${t}`, segmentSumSource(t)], [`range_${t}`, rangeSource(t)]]),
    ['to_bf16', TO_BF16_SOURCE], ['from_bf16', FROM_BF16_SOURCE], ['rms_norm', RMS_NORM_SOURCE], ['rms_norm_grad', RMS_NORM_GRAD_SOURCE], ['swiglu', SWIGLU_SOURCE], ['rope', ROPE_SOURCE],
    ['causal_softmax', CAUSAL_SOFTMAX_SOURCE], ['head_loss', HEAD_LOSS_SOURCE], ['adamw', ADAMW_SOURCE], ['add_sum_of_squares', SQUARED_NORM_SOURCE], ['kv_cache', KV_CACHE_SOURCE],
    ...(['q8_0', 'q4_0'] as const).flatMap((t): [string, string][] => [[`dequantize_${t}`, quantizedSource(t)], [`quantized_matvec_${t}`, quantizedSource(t)]]),
    // Every precision at the 92m head size, and the other sizes presets use in bf16 (the same template).
    ...Object.entries(MMA_PRECISION).map(([name, p]): [string, string] => [`flash_attention (Dh 64, ${name})`, flashSource(64, p)]),
    ...[32, 48, 128].map((hd): [string, string] => [`flash_attention (Dh ${hd}, bf16)`, flashSource(hd, MMA_PRECISION.bf16)]),
    // The blocks an H100's shared memory gives (227 KB a block, 228 an SM): 128 rows, two backward blocks an SM at Dh = 64, one at 128.
    ...[64, 128].map((hd): [string, string] => [`flash_attention (Dh ${hd}, bf16, H100 blocks)`, flashSource(hd, MMA_PRECISION.bf16, flashBlocks(hd, MMA_PRECISION.bf16, 227 * 1024, 228 * 1024))]),
  ];

  it.each(sources)('%s compiles for sm_90', (name, source) => {
    const { cubin } = compileModule(nvrtc, source, name, 'sm_90', cache);
    expect(cubin.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  }, 60_000); // the attention kernels take NVRTC up to ~10 s

  it('names an unknown op', () => {
    expect(() => binarySource('Atan2', 'float', 'float')).toThrow('cuda backend: no binary kernel Atan2');
  });
});

describe('broadcastStruct', () => {
  const unpack = (s: Int32Array) => ({
    rank: s[0],
    dims: Array.from(s.slice(1, 1 + MAX_RANK)),
    a: Array.from(s.slice(1 + MAX_RANK, 1 + 2 * MAX_RANK)),
    b: Array.from(s.slice(1 + 2 * MAX_RANK)),
  });

  it('gives zero strides along broadcast dimensions and pads missing leading ones', () => {
    // out [2, 3, 4] from a [2, 3, 4] and b [3, 1]: b repeats along dims 0 and 2.
    expect(unpack(broadcastStruct([2, 3, 4], [2, 3, 4], [3, 1]))).toEqual({
      rank: 3, dims: [2, 3, 4, 1, 1, 1], a: [12, 4, 1, 0, 0, 0], b: [0, 1, 0, 0, 0, 0],
    });
  });

  it('is rank 0 (element i of each input) when nothing broadcasts, whatever the rank', () => {
    expect(unpack(broadcastStruct([2, 3, 4, 5, 6, 7, 8], [2, 3, 4, 5, 6, 7, 8], [2, 3, 4, 5, 6, 7, 8])).rank).toBe(0);
    expect(unpack(broadcastStruct([], [], [])).rank).toBe(0); // two scalars: one element
    expect(unpack(broadcastStruct([1], [], [1]))).toMatchObject({ rank: 1, dims: [1, 1, 1, 1, 1, 1], a: [0, 0, 0, 0, 0, 0] });
  });
});

describe('contiguousStrides', () => {
  it('gives row-major element strides', () => {
    expect(contiguousStrides([2, 3, 4])).toEqual([12, 4, 1]);
    expect(contiguousStrides([])).toEqual([]);
  });
});
