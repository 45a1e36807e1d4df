// Training throughput of a full step (forward, backward, AdamW) on the active backend: tokens/s,
// ms/step, MFU and peak GPU memory, then where the time goes (per kernel, and CPU dispatch).
//   npx tsx bench/train-throughput.ts [--preset 92m --vocab 64798 --batch 32 --seq 1024 --accum 1
//                                      --steps 10 --matmul bf16,tf32 --backend cuda --lora <rank> --cuda-graph --profile]
// --lora trains a rank-r adapter on every projection of the frozen model instead of all weights (run
// it in its own process: the peak GPU memory is the process's). --cuda-graph replays the step from a CUDA
// graph from the second on, as `tinyllm train --cuda-graph` does (lib/train/recorded-step.ts).
// On a GPU machine without Node: ../shared/device/prepare.sh bench/train-throughput.ts, then there
//   source .device/env.sh && node .device/train-throughput.mjs
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend, parseBackendName, parseMatmulPrecision } from '../lib/backend/init.js';
import { intFlag, listFlag, parseArgs, stringFlag } from '../lib/cli/args.js';
import type { Batch } from '../lib/data/loader.js';
import { countParameters, presetConfig, trainingFlopsPerToken } from '../lib/model/config.js';
import { LORA_TARGETS, LoraAdapter } from '../lib/model/lora.js';
import { LlamaModel } from '../lib/model/model.js';
import { Rng } from '../lib/rng.js';
import { AdamW } from '../lib/train/adamw.js';
import { languageModelling } from '../lib/train/objective.js';
import { trainSteps } from '../lib/train/recorded-step.js';
import { trainStep } from '../lib/train/step.js';
import { printProfile } from './profile.js';

const H100_BF16_DENSE_TFLOPS = 989;

const args = parseArgs(process.argv.slice(2));
const preset = stringFlag(args, 'preset', '92m')!;
const presetSeq = presetConfig(preset).maxSeq;
const B = intFlag(args, 'batch', 32, 1)!, T = intFlag(args, 'seq', presetSeq, 2)!, accum = intFlag(args, 'accum', 1, 1)!;
// A --seq beyond the preset's context lengthens it (RoPE tables, the limit a model checks).
const config = presetConfig(preset, { vocabSize: intFlag(args, 'vocab', 64798, 2)!, maxSeq: Math.max(T, presetSeq) });
const steps = intFlag(args, 'steps', 10, 1)!;
const precisions = (listFlag(args, 'matmul').length > 0 ? listFlag(args, 'matmul').join(',') : 'bf16,tf32').split(',').map((p) => parseMatmulPrecision(p));
const backendName = parseBackendName(stringFlag(args, 'backend', 'auto')!);
const threads = intFlag(args, 'threads', undefined, 1);
const loraRank = intFlag(args, 'lora', undefined, 1);

const { nonEmbedding } = countParameters(config);
const flopsPerToken = trainingFlopsPerToken(config, T);
const rng = new Rng(1);
const batch = (): Batch => ({ inputs: Int32Array.from({ length: B * T }, () => rng.int(config.vocabSize)), targets: Int32Array.from({ length: B * T }, () => rng.int(config.vocabSize)) });

console.log(`preset ${preset}: ${(countParameters(config).total / 1e6).toFixed(2)}M parameters (${(nonEmbedding / 1e6).toFixed(2)}M non-embedding), vocab ${config.vocabSize}, batch ${B}×${T}${accum > 1 ? ` × accum ${accum}` : ''}, ${(flopsPerToken / 1e6).toFixed(1)} MFLOP/token`);
for (const matmul of precisions) {
  await initBackend(backendName, { quiet: true, matmul, threads });
  const model = LlamaModel.create(config, 0);
  if (loraRank) LoraAdapter.create(model, { rank: loraRank, alpha: 2 * loraRank, dropout: 0, targetModules: Object.values(LORA_TARGETS) });
  const trainable = model.trainableParams();
  const adamw = new AdamW(trainable);
  const micro = Array.from({ length: accum }, batch);
  const stepsOf = trainSteps(model, adamw, { batch: B, maxNorm: 1, objective: languageModelling, sync: null }, args.flags.has('cuda-graph'));
  const times: number[] = [];
  let loss = 0;
  // The host's own time a step (wall time less its waits for the GPU): near the step's, the GPU waits for
  // the host, not the other way round. And the process's CPU time, all threads.
  const waited = () => (tf.backend() as { waitedMs?: number }).waitedMs;
  let [hostMs, cpuMicros] = [0, 0];
  for (let s = 0; s < steps + 2; s++) {
    const [started, cpu, waitedBefore] = [performance.now(), process.cpuUsage(), waited() ?? 0];
    loss = stepsOf.run(micro, 1e-4).loss; // reads the loss: waits for the GPU
    process.stderr.write(`step ${s + 1}/${steps + 2}: ${(performance.now() - started).toFixed(1)} ms, loss ${loss.toFixed(4)}\n`); // (progress; the figures go to stdout)
    if (s >= 2) { // the first steps compile kernels and grow the pool
      times.push(performance.now() - started);
      hostMs += times.at(-1)! - ((waited() ?? 0) - waitedBefore);
      const used = process.cpuUsage(cpu);
      cpuMicros += used.user + used.system;
    }
  }
  const ms = times.reduce((a, b) => a + b, 0) / times.length;
  const tokensPerSecond = (B * T * accum) / (ms / 1000);
  const mfu = (tokensPerSecond * flopsPerToken) / (H100_BF16_DENSE_TFLOPS * 1e12);
  const memory = tf.memory() as tf.MemoryInfo & { peakBytesInGPU?: number };
  console.log(JSON.stringify({
    backend: describeBackend(), matmul, steps: stepsOf.mode, training: loraRank ? `LoRA rank ${loraRank}` : 'all weights',
    trainable_m: +([...trainable.values()].reduce((n, v) => n + v.size, 0) / 1e6).toFixed(2), tokens_per_s: Math.round(tokensPerSecond), ms_per_step: +ms.toFixed(1), host_ms_per_step: waited() === undefined ? null : +(hostMs / times.length).toFixed(1), cpu_ms_per_step: +(cpuMicros / 1000 / times.length).toFixed(1),
    mfu: +(100 * mfu).toFixed(1), peak_gpu_gb: memory.peakBytesInGPU !== undefined ? +(memory.peakBytesInGPU / 2 ** 30).toFixed(2) : null, loss: +loss.toFixed(4),
  }));
  // (Profiled eagerly: the profile times each launch between events of its own.)
  if (args.flags.has('profile')) await printProfile('step', () => { trainStep(model, adamw, micro, B, 1e-4, 1); });
  stepsOf.dispose();
  adamw.dispose();
  model.dispose();
}
