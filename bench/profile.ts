// Where a step's time goes, from tfjs's profiler: each kernel's time (on cuda, GPU time from CUDA events
// around it; on the CPU backends, the kernel's own wall time), grouped by kernel name. If their sum is
// well below the step's wall time, the rest is dispatch (tfjs, JS, koffi calls); if close, the kernels
// are the limit. On cuda, one level down too: each CUDA kernel and cuBLAS product, since one tfjs op may
// launch several (a step replayed from a CUDA graph launches none one by one: it shows no rows there).
// Shared by the training and decoding benchmarks.
import * as tf from '@tensorflow/tfjs';
import { describeBackend } from '../lib/backend/init.js';

/** Run `step` once for its wall time, then once under the profiler; print the kernels by total time. */
export async function printProfile(what: string, step: () => void): Promise<void> {
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false); // else the profiler reads back every kernel's output
  const started = performance.now();
  step();
  const wall = performance.now() - started;
  const info = await tf.profile(step);
  const group = (key: (k: (typeof info.kernels)[number]) => string) => {
    const by = new Map<string, { ms: number; count: number }>();
    for (const k of info.kernels) {
      const entry = by.get(key(k)) ?? { ms: 0, count: 0 };
      entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      entry.count++;
      by.set(key(k), entry);
    }
    return [...by].sort((a, b) => b[1].ms - a[1].ms);
  };
  const byName = group((k) => k.name);
  const total = byName.reduce((a, [, b]) => a + b.ms, 0);
  const print = (rows: [string, { ms: number; count: number }][], width: number, of = total) => {
    for (const [name, { ms, count }] of rows) console.log(`  ${name.padEnd(width)} ${ms.toFixed(3).padStart(9)} ms ${((100 * ms) / of).toFixed(1).padStart(5)}%  ${String(count).padStart(5)} calls`);
  };
  console.log(`profile (${describeBackend()}): ${info.kernels.length} kernel calls per ${what}; time of all kernels ${total.toFixed(2)} ms; wall time of a ${what} ${wall.toFixed(2)} ms`);
  print(byName.slice(0, 20), 26);
  console.log('  by kernel and input shapes:');
  print(group((k) => `${k.name} ${k.inputShapes.map((s: number[]) => `[${s}]`).join(' ')}`).slice(0, 25), 60);
  const backend = tf.backend() as { timeLaunches?: (f: () => void) => Map<string, { ms: number; count: number }> };
  if (backend.timeLaunches) {
    const launches = [...backend.timeLaunches(step)].sort((a, b) => b[1].ms - a[1].ms);
    const sum = launches.reduce((a, [, b]) => a + b.ms, 0);
    console.log(`  by CUDA kernel and cuBLAS product (${launches.reduce((a, [, b]) => a + b.count, 0)} launches, ${sum.toFixed(2)} ms):`);
    print(launches.slice(0, 30), 60, sum);
  }
}
