// GPU suite: the driver bindings, NVRTC on the device, kernel launches and the stream-ordered memory
// pool. Run with `npm run test:gpu` (skipped, with the reason, where there is no GPU).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compileModule } from '../../lib/backend/cuda/compile.js';
import { Nvrtc } from '../../lib/backend/cuda/ffi/nvrtc.js';
import { openGpu } from './gpu.js';

const gpu = openGpu();

const ADD = `extern "C" __global__ void add(float* out, const float* a, const float* b, float scale, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + scale * b[i];
}`;

describe('CUDA driver', { skip: gpu.skip }, () => {
  const driver = gpu.driver!;

  it('reports the device and its architecture', () => {
    driver.open(0); // memory figures need a current context
    const info = driver.deviceInfo(0);
    console.log(`  device: ${info.name}, ${info.arch}, ${info.multiprocessors} SMs, ${(driver.memoryInfo().total / 2 ** 30).toFixed(1)} GiB`);
    assert.match(info.arch, /^sm_\d+$/);
    assert.ok(info.multiprocessors > 0);
  });

  it('compiles a kernel with NVRTC, launches it and gets the right numbers back', () => {
    const { arch } = driver.deviceInfo(0);
    const { stream } = driver.open(0);
    const nvrtc = new Nvrtc();
    const { cubin } = compileModule(nvrtc, ADD, 'add', arch, mkdtempSync(join(tmpdir(), 'kernels-')));
    const add = driver.kernelOf(driver.loadModule(cubin), 'add');
    const n = 1_000_003; // not a multiple of the block size
    const a = Float32Array.from({ length: n }, (_, i) => i % 1000);
    const b = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3);
    const [pa, pb, pout] = [a, b, a].map(() => driver.alloc(n * 4, stream)) as [bigint, bigint, bigint];
    driver.upload(pa, a, stream);
    driver.upload(pb, b, stream);
    driver.launch(add, [Math.ceil(n / 256), 1, 1], [256, 1, 1], [pout, pa, pb, { f32: 0.5 }, { i32: n }], stream, 'add');
    const out = new Float32Array(n);
    driver.download(out, pout, stream);
    for (const i of [0, 1, 6, 999_999, n - 1]) assert.equal(out[i], a[i]! + 0.5 * b[i]!, `element ${i}`);
    assert.ok(out.every((v, i) => v === a[i]! + 0.5 * b[i]!));
    for (const p of [pa, pb, pout]) driver.free(p, stream);
    driver.synchronize(stream);
  });

  it('reuses pool memory: 1,000 allocate/free cycles of 64 MiB leave free memory where it was', () => {
    const { stream } = driver.open(0);
    driver.free(driver.alloc(64 << 20, stream), stream); // the pool holds one block from here on
    driver.synchronize(stream);
    const before = driver.memoryInfo().free;
    for (let i = 0; i < 1000; i++) driver.free(driver.alloc(64 << 20, stream), stream);
    driver.synchronize(stream);
    assert.ok(Math.abs(driver.memoryInfo().free - before) <= 64 << 20, `free memory moved by ${before - driver.memoryInfo().free} bytes`);
  });

  it('names the call and the CUDA error when a launch is wrong', () => {
    const { stream } = driver.open(0);
    const nvrtc = new Nvrtc();
    const { cubin } = compileModule(nvrtc, ADD, 'add', driver.deviceInfo(0).arch, mkdtempSync(join(tmpdir(), 'kernels-')));
    const add = driver.kernelOf(driver.loadModule(cubin), 'add');
    assert.throws(() => driver.launch(add, [1, 1, 1], [4096, 1, 1], [0n, 0n, 0n, { f32: 1 }, { i32: 0 }], stream, 'add'), /cuda: cuLaunchKernel\(add\) failed: .*invalid argument/);
  });
});
