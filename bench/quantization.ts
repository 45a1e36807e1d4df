// What quantization buys and costs, on a trained model: for float32, bfloat16, q8_0 and q4_0 model
// directories — file size, tensor memory once loaded, perplexity and bits per byte on the held-out
// set, multiple-choice accuracy (option scoring) on the shipped eval set, and greedy decoding speed at
// batch 1 (best of 3) — and llama.cpp (node-llama-cpp, installed on demand as the tests do) on the GGUF
// exports of the same model: file size and decoding speed with the same threads. Prints a markdown table.
//   npx tsx bench/quantization.ts [--model datasets/models/chat --threads 2 --new 128 --backend wasm]
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend, parseBackendName } from '../lib/backend/init.js';
import { intFlag, parseArgs, stringFlag } from '../lib/cli/args.js';
import { readMcq } from '../lib/eval/mcq-data.js';
import { evaluateMcq } from '../lib/eval/mcq.js';
import { evaluatePerplexity } from '../lib/eval/perplexity.js';
import { readPplDocuments } from '../lib/eval/texts.js';
import { exportGguf, type GgufExportType } from '../lib/io/gguf-export.js';
import { loadModelDir, saveModelDir } from '../lib/io/model-dir.js';
import { generate } from '../lib/infer/sampling.js';
import { quantizeModel } from '../lib/quant/quantize-model.js';
import { renderChat } from '../lib/tokenizer/chat.js';
import { getLlamaCpp, loadLlamaCpp } from '../test/llama-cpp.js';

const args = parseArgs(process.argv.slice(2));
const source = stringFlag(args, 'model', 'datasets/models/chat')!;
const threads = intFlag(args, 'threads', 2, 1)!;
const newTokens = intFlag(args, 'new', 128, 2)!;
await initBackend(parseBackendName(stringFlag(args, 'backend', 'wasm')!), { quiet: true, threads });
const work = mkdtempSync(join(tmpdir(), 'bench-quant-'));
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);

// The four model directories: the float model in both precisions, and its two quantizations.
const dirs: Record<string, string> = { f32: join(work, 'f32'), bf16: join(work, 'bf16'), q8_0: join(work, 'q8_0'), q4_0: join(work, 'q4_0') };
{
  const { model, tokenizer } = loadModelDir(source);
  saveModelDir(model, dirs.f32!, { tokenizer: tokenizer!, dtype: 'float32' });
  saveModelDir(model, dirs.bf16!, { tokenizer: tokenizer!, dtype: 'bfloat16' });
  for (const type of ['q8_0', 'q4_0'] as const) {
    const quantized = quantizeModel(model, type);
    saveModelDir(quantized, dirs[type]!, { tokenizer: tokenizer!, dtype: 'bfloat16' });
    quantized.dispose();
  }
  model.dispose();
}

const { tokenizer } = loadModelDir(dirs.f32!);
const prompt = tokenizer!.encode(renderChat([{ role: 'user', content: '请介绍一下长城。' }], { addGenerationPrompt: true }));
const documents = [];
for (const file of ['zh-modern', 'zh-classical', 'en']) documents.push(...(await readPplDocuments(`datasets/eval/ppl/${file}.jsonl.gz`, tokenizer!)).documents);
const mcq = readMcq('datasets/eval/mcq');

/** Greedy tokens/s after the prompt, over `newTokens` tokens (no stop token: always the full count). */
function decodeSpeed(step: (onToken: () => void) => void): number {
  const times: number[] = [];
  let last = performance.now();
  step(() => { const now = performance.now(); times.push(now - last); last = now; });
  return (1000 * (times.length - 1)) / times.slice(1).reduce((a, b) => a + b, 0);
}

// llama.cpp first: once our OpenBLAS threads have run they spin for a while, and would take its cores.
const theirs: string[] = [];
const { module } = await loadLlamaCpp();
const llama = await getLlamaCpp(module, threads);
for (const type of ['f32', 'f16', 'q8_0', 'q4_0'] as GgufExportType[]) {
  const file = join(work, `${type}.gguf`);
  exportGguf(dirs.f32!, file, type);
  const m = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const context = await m.createContext({ contextSize: 512, threads, flashAttention: false });
  let speed = 0;
  for (let round = 0; round < 3; round++) { // best of 3, as ours
    const sequence = context.getSequence();
    const times: number[] = [];
    let last = performance.now();
    for await (const _ of sequence.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
      const now = performance.now();
      times.push(now - last);
      last = now;
      if (times.length === newTokens) break;
    }
    speed = Math.max(speed, (1000 * (times.length - 1)) / times.slice(1).reduce((a, b) => a + b, 0));
    sequence.dispose();
  }
  theirs.push(`| llama.cpp, ${type} GGUF | ${mib(statSync(file).size)} | — | — | — | — | ${speed.toFixed(0)} |`);
  console.error(theirs.at(-1));
  await context.dispose();
  await m.dispose();
}
await llama.dispose();

const ours: string[] = [];
for (const [name, dir] of Object.entries(dirs)) {
  const before = tf.memory().numBytes;
  const { model } = loadModelDir(dir);
  const memory = tf.memory().numBytes - before;
  const ppl = evaluatePerplexity(model, documents, { batch: 16 }).total;
  const acc = evaluateMcq(model, tokenizer!, mcq, { score: 'option', shots: 0, chat: false, batch: 16 }).micro;
  const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, maxNewTokens: newTokens };
  generate(model, prompt, { ...greedy, maxNewTokens: 8 }); // warm up
  const speed = Math.max(...[1, 2, 3].map(() => decodeSpeed((onToken) => generate(model, prompt, { ...greedy, onToken }))));
  model.dispose();
  ours.push(`| ours, ${name} | ${mib(statSync(join(dir, 'model.safetensors')).size)} | ${mib(memory)} | ${ppl.ppl.toFixed(3)} | ${ppl.bpb.toFixed(4)} | ${(100 * acc.accuracy).toFixed(1)}% [${(100 * acc.interval[0]).toFixed(1)}, ${(100 * acc.interval[1]).toFixed(1)}] | ${speed.toFixed(0)} |`);
  console.error(ours.at(-1));
}


console.log(`${source}, ${documents.length} held-out documents, ${mcq.subjects.reduce((n, s) => n + s.items.length, 0)} multiple-choice items; ${describeBackend()}; llama.cpp ${threads} thread(s)\n`);
console.log('| model | file MiB | tensor memory MiB | perplexity | bits per byte | MCQ accuracy (option) | decode tokens/s |');
console.log('|---|---:|---:|---:|---:|---|---:|');
for (const row of [...ours, ...theirs]) console.log(row);
