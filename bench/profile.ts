// Where a step's time goes, from tfjs's profiler: each kernel's time (on cuda, GPU time from CUDA events
// around it; on the CPU backends, the kernel's own wall time), grouped by kernel name. If their sum is
// well below the step's wall time, the rest is dispatch (tfjs, JS, koffi calls); if close, the kernels
// are the limit. Shared by the training and decoding benchmarks.
import * as tf from '@tensorflow/tfjs';
import { describeBackend } from '../lib/backend/init.js';

/** Run `step` once for its wall time, then once under the profiler; print the kernels by total time. */
export async function printProfile(what: string, step: () => void): Promise<void> {
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false); // else the profiler reads back every kernel's output
  const started = performance.now();
  step();
  const wall = performance.now() - started;
  const info = await tf.profile(step);
  const byName = new Map<string, { ms: number; count: number }>();
  for (const k of info.kernels) {
    const entry = byName.get(k.name) ?? { ms: 0, count: 0 };
    entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    entry.count++;
    byName.set(k.name, entry);
  }
  const total = [...byName.values()].reduce((a, b) => a + b.ms, 0);
  console.log(`profile (${describeBackend()}): ${info.kernels.length} kernel calls per ${what}; time of all kernels ${total.toFixed(2)} ms; wall time of a ${what} ${wall.toFixed(2)} ms`);
  for (const [name, { ms, count }] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20)) {
    console.log(`  ${name.padEnd(26)} ${ms.toFixed(3).padStart(9)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${String(count).padStart(5)} calls`);
  }
}
