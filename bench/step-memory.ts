// Peak GPU memory of a training step on the cuda backend, counted without a GPU: the backend runs over
// the recording driver of the tests (test/lib/cuda/recording-driver.ts), which hands out addresses
// instead of memory and launches nothing, so every allocation of a real step is made and counted —
// the same count `peak_gpu_gb` of bench/train-throughput.ts prints on a GPU. Also the forward and
// backward alone with tf.variableGrads and with variableGradients (lib/train/backprop.ts), the model's
// and AdamW's tensors allocated as in a step. And the host's side of a step: its time over the recording
// driver (no GPU to wait for: JavaScript, tfjs and the driver calls alone, which on a GPU must stay well
// under the step's kernels for the GPU to be the limit) and its copies to the GPU, for a step as trainStep
// runs it and as replayed from a CUDA graph.
//   npx tsx bench/step-memory.ts [--preset 92m --vocab 64798 --batch 32 --seq 1024]
import * as tf from '@tensorflow/tfjs';
import { intFlag, parseArgs, stringFlag } from '../lib/cli/args.js';
import { presetConfig } from '../lib/model/config.js';
import { LlamaModel } from '../lib/model/model.js';
import { AdamW } from '../lib/train/adamw.js';
import { variableGradients } from '../lib/train/backprop.js';
import { languageModelling } from '../lib/train/objective.js';
import { trainSteps } from '../lib/train/recorded-step.js';
import { batchTensors, trainStep } from '../lib/train/step.js';
import { RecordingDriver, useRecordingBackend } from '../test/lib/cuda/recording-driver.js';

const args = parseArgs(process.argv.slice(2));
const preset = stringFlag(args, 'preset', '92m')!;
const presetSeq = presetConfig(preset).maxSeq;
const B = intFlag(args, 'batch', 32, 1)!, T = intFlag(args, 'seq', presetSeq, 2)!;
const config = presetConfig(preset, { vocabSize: intFlag(args, 'vocab', 64798, 2)!, maxSeq: Math.max(T, presetSeq) });

const driver = new RecordingDriver();
driver.launch = () => {}; // (no record of the launches: a step makes thousands)
await useRecordingBackend(driver, 'bf16');

const model = LlamaModel.create(config, 0);
const adamw = new AdamW(model.trainableParams());
const batch = { inputs: new Int32Array(B * T), targets: new Int32Array(B * T) };
const gib = (bytes: number) => +(bytes / 2 ** 30).toFixed(2);

/** The most bytes allocated at once while `run` runs (after a first run: kernels' scratch and bf16 copies made). */
function peakOf(run: () => void): number {
  run();
  driver.resetPeak();
  run();
  return gib(driver.peakBytes);
}

/** Milliseconds of host time and copies to the GPU per run of `run`, over `runs` runs after a first. */
function hostOf(run: () => void, runs = 5): { ms: number; uploads: number } {
  run();
  let uploads = 0;
  const upload = driver.upload.bind(driver);
  driver.upload = (...copy: Parameters<typeof upload>) => { uploads++; upload(...copy); };
  const started = performance.now();
  for (let i = 0; i < runs; i++) run();
  const ms = (performance.now() - started) / runs;
  driver.upload = upload;
  return { ms: +ms.toFixed(1), uploads: uploads / runs };
}

const backwardWith = (gradients: typeof variableGradients) => () => {
  const tensors = batchTensors(batch, B);
  const { value, grads } = gradients(() => model.loss(tensors.inputs, tensors.targets), [...model.trainableParams().values()]);
  tf.dispose([value, ...Object.values(grads), ...Object.values(tensors)]);
};

const recorded = trainSteps(model, adamw, { batch: B, maxNorm: 1, objective: languageModelling, sync: null }, true);
recorded.run([batch], 1e-4); // (recorded at its second step: hostOf's first run)
console.log(JSON.stringify({
  preset, batch: B, seq: T, vocab: config.vocabSize, matmul: 'bf16',
  step_peak_gb: peakOf(() => trainStep(model, adamw, [batch], B, 1e-4, 1)),
  step_host: hostOf(() => trainStep(model, adamw, [batch], B, 1e-4, 1)),
  recorded_step_host: hostOf(() => recorded.run([batch], 1e-4)), // replays of a CUDA graph (lib/train/recorded-step.ts)
  backward_peak_gb: { 'tf.variableGrads': peakOf(backwardWith(tf.variableGrads as typeof variableGradients)), variableGradients: peakOf(backwardWith(variableGradients)) },
}));
