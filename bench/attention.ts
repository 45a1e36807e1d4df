// The fused attention kernels alone (lib/backend/cuda/kernels/flash-attention.ts) at a training shape:
// ms per forward and per backward, and the tensor-core rate they reach (causal: half the T×T scores),
// with what ptxas reports for each kernel (registers, spills, shared memory) — where a slow kernel's
// time goes before reaching for a profiler. cuda only.
//   npx tsx bench/attention.ts [--batch 32 --seq 1024 --heads 8 --kv-heads 8 --head-dim 64 --matmul bf16 --repeat 20]
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../lib/backend/cuda/backend.js';
import { NVRTC_OPTIONS } from '../lib/backend/cuda/compile.js';
import { flashBlocksOn, flashSource } from '../lib/backend/cuda/kernels/flash-attention.js';
import { MMA_PRECISION } from '../lib/backend/cuda/kernels/mma.js';
import { Nvrtc } from '../lib/backend/cuda/ffi/nvrtc.js';
import { describeBackend, initBackend, parseMatmulPrecision } from '../lib/backend/init.js';
import { intFlag, parseArgs, stringFlag } from '../lib/cli/args.js';
import { FUSED, gradOf } from '../lib/model/fused.js';
import { ropeTables } from '../lib/model/rope.js';

const args = parseArgs(process.argv.slice(2));
const B = intFlag(args, 'batch', 32, 1)!, T = intFlag(args, 'seq', 1024, 1)!, H = intFlag(args, 'heads', 8, 1)!;
const KVH = intFlag(args, 'kv-heads', H, 1)!, Dh = intFlag(args, 'head-dim', 64, 16)!, repeat = intFlag(args, 'repeat', 20, 1)!;
const matmul = parseMatmulPrecision(stringFlag(args, 'matmul', 'bf16')!);
await initBackend('cuda', { quiet: true, matmul });
const cuda = tf.backend() as CudaBackend;

// ptxas's account of the kernels as the backend compiles them.
const blocks = flashBlocksOn(cuda, Dh, MMA_PRECISION[matmul]);
console.log(`blocks on this GPU: ${blocks.queries} queries (forward), ${blocks.keys} keys (backward, ${blocks.keyBlocks} an SM)`);
const { log } = new Nvrtc().compile(flashSource(Dh, MMA_PRECISION[matmul], blocks), 'flash.cu', [`--gpu-architecture=${cuda.arch}`, ...NVRTC_OPTIONS, '--ptxas-options=-v']);
for (const line of log.split('\n').filter((l) => /Used|spill|Compiling entry/.test(l))) console.log(`ptxas: ${line.trim()}`);

const rope = ropeTables(Dh, T, 10000);
const q = tf.randomNormal([B, T, H, Dh], 0, 1, 'float32', 1);
const k = tf.randomNormal([B, T, KVH, Dh], 0, 1, 'float32', 2);
const v = tf.randomNormal([B, T, KVH, Dh], 0, 1, 'float32', 3);
const dy = tf.randomNormal([B, T, H, Dh], 0, 1, 'float32', 4);
const inputs = { q, k, v, cos: rope.cos, sin: rope.sin };
const forward = () => tf.engine().runKernel(FUSED.attention, inputs) as tf.Tensor;
const out = forward();
const backward = () => tf.engine().runKernel(gradOf(FUSED.attention), { ...inputs, dy, out }) as tf.Tensor[];

/** Mean ms of `repeat` back-to-back runs of `f` (after one to compile), read back once at the end. */
function time(f: () => tf.Tensor | tf.Tensor[]): number {
  tf.dispose(f());
  cuda.driver.synchronize(cuda.stream);
  const started = performance.now();
  for (let i = 0; i < repeat; i++) tf.dispose(f());
  cuda.driver.synchronize(cuda.stream);
  return (performance.now() - started) / repeat;
}
// Multiply-adds ×2 of the causal products: QKᵀ and P·V over half of T×T (forward); the backward
// recomputes QKᵀ and adds dP = dO·Vᵀ, dV, dK and dQ: 5 products.
const flops = 2 * 2 * B * H * ((T * T) / 2) * Dh;
const [fwd, bwd] = [time(forward), time(backward)];
console.log(JSON.stringify({
  backend: describeBackend(), shape: { B, T, H, KVH, Dh }, forward_ms: +fwd.toFixed(3), backward_ms: +bwd.toFixed(3),
  forward_tflops: +(flops / fwd / 1e9).toFixed(1), backward_tflops: +((2.5 * flops) / bwd / 1e9).toFixed(1),
}));
tf.dispose([q, k, v, dy, out, rope.cos, rope.sin]);
