// Flash attention's block sizes follow the GPU's shared memory (flashBlocks), and a GPU that cannot hold
// even the smaller blocks gets an error naming the kernel, the head size and the bytes — on a recording
// driver that reports such a GPU (no GPU needed; the kernels compile with NVRTC).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceInfo } from '../../../lib/backend/cuda/ffi/driver.js';
import { flashBlocks } from '../../../lib/backend/cuda/kernels/flash-attention.js';
import { MMA_PRECISION } from '../../../lib/backend/cuda/kernels/mma.js';
import { FUSED, gradOf } from '../../../lib/model/fused.js';
import { ropeTables } from '../../../lib/model/rope.js';
import { leaveRecordingBackend, RecordingDriver, useRecordingBackend } from './recording-driver.js';

const KB = 1024;

describe('flash attention blocks', () => {
  // Shared memory (bf16 tiles: rows of Dh + 8 bfloat16): forward (queries + 256) rows, backward
  // (2·keys + 256) rows, dSᵀ [keys][72] and 512 bytes of lse and Δ.
  it('take 128 rows where the tiles fit a block (an H100: 227 KB) and 64 where they do not (99 KB), and two backward blocks an SM where they fit twice', () => {
    const bf16 = MMA_PRECISION.bf16;
    expect(flashBlocks(64, bf16, 227 * KB, 228 * KB)).toEqual({ queries: 128, keys: 128, keyBlocks: 2 }); // 54 KB, 90.5 KB
    expect(flashBlocks(128, bf16, 227 * KB, 228 * KB)).toEqual({ queries: 128, keys: 128, keyBlocks: 1 }); // 102 KB, 154.5 KB
    expect(flashBlocks(64, bf16)).toEqual({ queries: 128, keys: 128, keyBlocks: 1 }); // sm_86: 99 KB a block, 100 an SM
    expect(flashBlocks(128, bf16)).toEqual({ queries: 64, keys: 64, keyBlocks: 1 }); // 85 KB, 111.5 KB (more than a block has)
  });

  describe('on a GPU with 99 KB of shared memory a block', () => {
    class SmallGpu extends RecordingDriver {
      override deviceInfo(): DeviceInfo {
        return { ...super.deviceInfo(), sharedPerBlock: 99 * KB, sharedPerMultiprocessor: 100 * KB };
      }
    }
    beforeAll(() => useRecordingBackend(new SmallGpu(), 'fp32'));
    afterAll(leaveRecordingBackend);

    it('float32 tiles at Dh = 64: the forward runs (64 queries a block), the backward says what it would need', () => {
      const [B, T, H, Dh] = [1, 8, 2, 64];
      const { cos, sin } = ropeTables(Dh, T, 10000);
      const [q, k, v, dy] = [0, 1, 2, 3].map(() => tf.zeros([B, T, H, Dh]));
      const out = tf.engine().runKernel(FUSED.attention, { q, k, v, cos: cos!, sin: sin! }) as tf.Tensor;
      expect(out.shape).toEqual([B, T, H, Dh]);
      expect(() => tf.engine().runKernel(gradOf(FUSED.attention), { dy: dy!, v: v!, cos: cos!, sin: sin!, out })).toThrow(
        'cuda backend: flash_backward with heads of 64 and fp32 products needs 122368 bytes of shared memory a block; recording driver gives 101376',
      );
    });
  });
});
