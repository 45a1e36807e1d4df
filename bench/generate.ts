// Decoding speed: a prompt of --prompt ids, then --new greedy tokens with the KV cache, on random
// weights of a preset (what the weights are does not change the time). At batch 1: time to first token
// and decode tokens/s; with --batch n: n prompts at once (a BatchDecoder: their prompts in one pass, then
// one forward pass per step for all), aggregate tokens/s end to end, the prefill's time and the steps'
// tokens/s. On cuda, steps replay a CUDA graph (TINYLLM_CUDA_GRAPHS=0: every op eagerly). Prints JSON.
// Compare with Hugging Face generate in the same command:
// --quantize q8_0|q4_0 decodes with the projections quantized (the decoding path of `tinyllm quantize`);
// --profile then times the kernels of one more decoding step (where a token's time goes; run it with
// TINYLLM_CUDA_GRAPHS=0 on cuda, as a replayed graph shows the profiler no kernels).
//   npx tsx bench/generate.ts --preset 92m --vocab 6400 [--prompt 32 --new 128 --batch 1 --quantize q8_0 --backend wasm --threads 2 --profile]
// --matmul tf32|bf16 (cuda): products on the tensor cores instead of in float32 (fp32, the default).
// --prefill each: with --batch n, run the n prompts one pass each instead of together (as before batched prefill).
// --repeat n (default 5): the timed generation n times; figures are the median run's, with the slowest
// and fastest beside them (a run of 128 tokens lasts a fraction of a second: single runs vary by ±10%).
import { describeBackend, initBackend, parseBackendName, parseMatmulPrecision } from '../lib/backend/init.js';
import { intFlag, parseArgs, stringFlag } from '../lib/cli/args.js';
import { presetConfig } from '../lib/model/config.js';
import { quantizeModel } from '../lib/quant/quantize-model.js';
import { quantFormat, type QuantType } from '../lib/quant/types.js';
import { LlamaModel } from '../lib/model/model.js';
import { BatchDecoder } from '../lib/infer/batch-decoder.js';
import { Decoder, generate } from '../lib/infer/sampling.js';
import { Rng } from '../lib/rng.js';
import { printProfile } from './profile.js';

const args = parseArgs(process.argv.slice(2));
const preset = stringFlag(args, 'preset', 'nano')!;
const config = presetConfig(preset, { vocabSize: intFlag(args, 'vocab', 6400, 2)! });
const promptLength = intFlag(args, 'prompt', 32, 1)!, newTokens = intFlag(args, 'new', 128, 2)!, batch = intFlag(args, 'batch', 1, 1)!;
const repeats = intFlag(args, 'repeat', 5, 1)!;
/** The median of the runs' figures by `key`, and the lowest and highest rate. */
function medianRun<T extends Record<string, number>>(runs: T[], key: keyof T): T & { runs: number; range: [number, number] } {
  const sorted = [...runs].sort((a, b) => a[key]! - b[key]!);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, runs: runs.length, range: [sorted[0]![key]!, sorted.at(-1)![key]!] };
}
await initBackend(parseBackendName(stringFlag(args, 'backend', 'auto')!), { quiet: true, threads: intFlag(args, 'threads', undefined, 1), matmul: parseMatmulPrecision(stringFlag(args, 'matmul', 'fp32')!) });

const quantize = stringFlag(args, 'quantize');
if (quantize) quantFormat(quantize); // an unknown type fails before any work
const float = LlamaModel.create(config, 0);
const model = quantize ? quantizeModel(float, quantize as QuantType) : float;
if (model !== float) float.dispose();
const rng = new Rng(1);
const prompt = Array.from({ length: promptLength }, () => rng.int(config.vocabSize));
const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, maxNewTokens: newTokens };
const prefillMode = stringFlag(args, 'prefill', 'together')!;
if (prefillMode !== 'together' && prefillMode !== 'each') throw new Error(`--prefill ${prefillMode}: expected together or each`);
const prefillEach = prefillMode === 'each';
const header = { backend: describeBackend(), preset, vocab: config.vocabSize, weights: quantize ?? 'float32', prompt: promptLength, batch, ...(batch > 1 ? { prefill: prefillEach ? 'each' : 'together' } : {}) };
if (batch > 1) {
  // One batch decoder for the warm-up and the timed run, as a server keeps one: on cuda its step for
  // this batch size is recorded as a CUDA graph in the warm-up.
  const decoder = new BatchDecoder(model, batch, promptLength + newTokens);
  const prompts = Array.from({ length: batch }, () => Array.from({ length: promptLength }, () => rng.int(config.vocabSize)));
  /** Start every prompt, their prefill in as few passes as the decoder takes. */
  const joinAll = (maxNewTokens: number) => decoder.join(prompts.map((p) => decoder.sequence(p, { ...greedy, maxNewTokens })));
  const run = (maxNewTokens: number) => {
    const started = performance.now();
    const sequences = prefillEach
      ? prompts.map((p) => decoder.add(p, { ...greedy, maxNewTokens }))
      : joinAll(maxNewTokens);
    const prefilled = performance.now();
    while (decoder.size > 0) decoder.step();
    const ended = performance.now();
    const tokens = sequences.reduce((n, s) => n + s.ids.length, 0);
    const seconds = (ended - started) / 1000;
    return {
      new_tokens: tokens, aggregate_tok_s: +(tokens / seconds).toFixed(1), per_sequence_tok_s: +(tokens / batch / seconds).toFixed(1), total_s: +seconds.toFixed(3),
      // the prompts (with each one's first token), then the steps that give every other token
      prefill_ms: +(prefilled - started).toFixed(1), decode_tok_s: +((tokens - batch) / ((ended - prefilled) / 1000)).toFixed(1), step_ms: +((ended - prefilled) / (maxNewTokens - 1)).toFixed(3),
    };
  };
  run(8); // warm up
  const runs = Array.from({ length: repeats }, () => run(newTokens));
  console.log(JSON.stringify({ ...header, decoding: decoder.mode, ...medianRun(runs, 'aggregate_tok_s') }));
  if (args.flags.has('profile')) {
    await printProfile(`prefill of ${batch} prompts`, () => {
      // (ended at once: the next join finds the rows free)
      for (const s of joinAll(newTokens)) s.finish('length');
    });
    joinAll(newTokens);
    for (let i = 0; i < newTokens / 2; i++) decoder.step(); // halfway: the cache as full as on average
    await printProfile(`decoding step of ${batch}`, () => decoder.step());
  }
  decoder.dispose();
} else {
  generate(model, prompt, { ...greedy, maxNewTokens: 8 }); // warm up: kernels, allocations
  let mode = '';
  const runs = Array.from({ length: repeats }, () => {
    const times: number[] = [];
    let last = performance.now();
    const started = last;
    const decoder = new Decoder(model, prompt, { ...greedy, onToken: () => { const now = performance.now(); times.push(now - last); last = now; } });
    while (!decoder.done) decoder.step();
    mode = decoder.mode;
    decoder.finish('length');
    const decodeMs = times.slice(1).reduce((a, b) => a + b, 0);
    const median = [...times.slice(1)].sort((a, b) => a - b)[Math.floor((times.length - 1) / 2)]!;
    return {
      new_tokens: times.length, first_token_ms: +times[0]!.toFixed(1),
      // every step after the first token (on cuda the second records the CUDA graph), and a typical one
      decode_tok_s: +((1000 * (times.length - 1)) / decodeMs).toFixed(1), median_step_ms: +median.toFixed(3), total_s: +((last - started) / 1000).toFixed(2),
    };
  });
  console.log(JSON.stringify({ ...header, decoding: mode, ...medianRun(runs, 'decode_tok_s') }));
  if (args.flags.has('profile')) {
    const profiled = new Decoder(model, prompt, { ...greedy, maxNewTokens: config.maxSeq - promptLength });
    profiled.step(); // the prompt
    profiled.step(); // the first step (on cuda: recorded as a graph)
    await printProfile('decoding step', () => { profiled.step(); });
    profiled.finish('length');
  }
}
model.dispose();
