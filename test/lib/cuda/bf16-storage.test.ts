// The cuda backend's bookkeeping of tensors kept in bfloat16 only (CudaBackend.allocateBf16), against a
// stand-in for the CUDA driver that records what it is asked to do: no GPU needed, so CI checks that
// memory is counted once and given back, that float32 values are made from the copy once and only when
// read, never while a graph is being recorded, and that what cannot be done says why. (The values the
// kernels compute are the GPU suite's: test/gpu/fused.test.ts, test/gpu/train.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CudaBackend } from '../../../lib/backend/cuda/backend.js';
import type { Driver } from '../../../lib/backend/cuda/ffi/driver.js';
import { ADAMW_KERNELS } from '../../../lib/backend/cuda/kernels/adamw.js';
import { allocateProductInput, operand } from '../../../lib/backend/cuda/kernels/bf16.js';
import { RecordingDriver } from './recording-driver.js';

describe('tensors kept in bfloat16 only (cuda backend, recording driver)', () => {
  const driver = new RecordingDriver();
  let cuda: CudaBackend;
  const n = 1000;
  const conversions = () => driver.launches.filter((l) => l.kernel === 'from_bf16').length;
  const bytes = () => cuda.memory().numBytesInGPU;

  beforeAll(() => {
    cuda = new CudaBackend(driver as unknown as Driver);
  });
  afterAll(() => {
    cuda.dispose();
  });

  it('holds 2 bytes a value, and gives them back when disposed without ever making float32 values', () => {
    const before = { bytes: bytes(), live: driver.live.size };
    const t = cuda.allocateBf16([10, 100]);
    expect([cuda.hasFloat32(t), cuda.hasBf16(t), bytes() - before.bytes]).toEqual([false, true, 2 * n]);
    cuda.disposeData(t.dataId);
    expect([bytes(), driver.live.size, conversions()]).toEqual([before.bytes, before.live, 0]);
  });

  it('makes its float32 values from the copy once, on the first read, and frees both', () => {
    const before = { bytes: bytes(), live: driver.live.size, made: cuda.float32Made, conversions: conversions() };
    const t = cuda.allocateBf16([n]);
    const copy = cuda.bf16Of(t, () => 0n);
    const ptr = cuda.pointer(t);
    expect(cuda.pointer(t)).toBe(ptr);
    expect([cuda.float32Made - before.made, conversions() - before.conversions, bytes() - before.bytes]).toEqual([1, 1, 6 * n]);
    expect(driver.launches.at(-1)!.args).toEqual([ptr, copy, BigInt(n)]);
    cuda.readSync(t.dataId); // (its values exist now: no second conversion)
    expect(conversions() - before.conversions).toBe(1);
    cuda.disposeData(t.dataId);
    expect([bytes(), driver.live.size]).toEqual([before.bytes, before.live]);
  });

  it('is not converted when its values are about to be replaced (overwrite, copyInto), and then keeps no stale copy', () => {
    const before = { made: cuda.float32Made, conversions: conversions() };
    const [a, b] = [cuda.allocateBf16([n]), cuda.allocateBf16([n])];
    cuda.overwrite(a, new Float32Array(n));
    const source = cuda.allocate([n], 'float32');
    cuda.copyInto(b, source);
    expect([cuda.float32Made - before.made, conversions() - before.conversions]).toEqual([0, 0]);
    expect([a, b].map((t) => [cuda.hasFloat32(t), cuda.hasBf16(t)])).toEqual([[true, false], [true, false]]);
    [a, b, source].forEach((t) => cuda.disposeData(t.dataId));
  });

  it('keeps its tail (when asked for one) where it was when its float32 values are made, and frees it with the tensor', () => {
    const before = { bytes: bytes(), live: driver.live.size };
    const [t, plain] = [cuda.allocateBf16([n], 1000), cuda.allocateBf16([n])];
    expect([cuda.tail(t).bytes, cuda.tail(plain).bytes, bytes() - before.bytes]).toEqual([1000, 0, 4 * n + 1000]);
    const tail = cuda.tail(t);
    cuda.pointer(t);
    expect(cuda.tail(t)).toEqual(tail);
    [t, plain].forEach((x) => cuda.disposeData(x.dataId));
    expect([bytes(), driver.live.size, driver.live.has(tail.ptr)]).toEqual([before.bytes, before.live, false]);
  });

  it('cannot be marked written before it has float32 values, and is not made float32 while a graph is recorded', () => {
    const t = cuda.allocateBf16([n]);
    expect(() => cuda.written(t)).toThrow(/written\(\) on a tensor kept in bfloat16 only/);
    expect(() => cuda.capture('a test step', () => cuda.pointer(t))).toThrow(/making float32 values of a tensor kept in bfloat16 only while capturing a test step as a CUDA graph/);
    expect(cuda.hasFloat32(t)).toBe(false); // (nothing was allocated for it in the failed recording)
    cuda.disposeData(t.dataId);
  });

  it('is what allocateProductInput gives in bf16 precision alone, and never for an empty tensor', () => {
    const keptAlone = (precision: 'fp32' | 'tf32' | 'bf16', shape: number[]) => {
      cuda.matmulPrecision = precision;
      const t = allocateProductInput(cuda, shape);
      const alone = !cuda.hasFloat32(t);
      cuda.disposeData(t.dataId);
      return alone;
    };
    try {
      expect([keptAlone('fp32', [4, 8]), keptAlone('tf32', [4, 8]), keptAlone('bf16', [4, 8]), keptAlone('bf16', [0, 8])]).toEqual([false, false, true, false]);
    } finally {
      cuda.matmulPrecision = 'fp32';
    }
  });

  it("AdamW writes a weight's kept bfloat16 copy with the new values (no conversion before the next product), and drops it when products no longer run in bf16", () => {
    const [, adamw] = ADAMW_KERNELS[0]!;
    const attrs = { beta1: 0.9, beta2: 0.95, eps: 1e-8, decay: [0.1] };
    const [p, g, m, v, scale, stepSize] = [[n], [n], [n], [n], [], [3]].map((shape) => cuda.allocate(shape, 'float32'));
    // The table of parameters travels in the launch's struct: pointer arrays p[64], p16[64], g[64], …
    const update = () => {
      adamw({ inputs: { scale: scale!, stepSize: stepSize!, param0: p!, grad0: g!, m0: m!, v0: v! }, backend: cuda, attrs });
      const launch = driver.launches.at(-1)!;
      const table = new BigInt64Array((launch.args[0] as { struct: Int32Array }).struct.buffer);
      return { kernel: launch.kernel, param: table[0], copy: table[64], scale: launch.args[1] };
    };
    const toBf16 = () => driver.launches.filter((l) => l.kernel === 'to_bf16').length;
    try {
      cuda.matmulPrecision = 'bf16';
      const copy = operand(cuda, p!); // a product read the weight: one conversion
      const converted = toBf16();
      expect(update()).toEqual({ kernel: 'adamw', param: cuda.pointer(p!), copy, scale: cuda.pointer(scale!) });
      expect([operand(cuda, p!), toBf16()]).toEqual([copy, converted]); // the next product reads it as it is
      cuda.matmulPrecision = 'fp32';
      expect(update().copy).toBe(0n);
      expect(cuda.hasBf16(p!)).toBe(false);
    } finally {
      cuda.matmulPrecision = 'fp32';
      [p, g, m, v, scale, stepSize].forEach((t) => cuda.disposeData(t!.dataId));
    }
  });
});
