// %% [markdown]
// # 12 · Quantization: fewer bits per weight, and a file llama.cpp runs
//
// A trained model is a few million numbers, each a 32-bit float (or 16-bit, as we ship them). Generating
// one token reads every weight once, so on a CPU, and for one sequence at a time on a GPU, decoding speed is
// memory bandwidth divided by model size: fewer bits per weight, more tokens per second — and a model that
// fits a phone. **Quantization** stores each weight in 8 or 4 bits instead, with a scale to map the small
// integers back to real values.
//
// This notebook:
//
// 1. quantizes by hand — one scale for a whole tensor (absmax) against one per block of 32 weights, and what
//    a single outlier does to each;
// 2. opens the two block formats of `lib/quant/`, **Q8_0** and **Q4_0** — llama.cpp's GGUF layouts, byte
//    for byte (our tests compare against llama.cpp's own Python quantizer);
// 3. measures the error per bit width over every weight of the chat model (a histogram);
// 4. plots perplexity against bits and file size, the trade-off in one picture;
// 5. puts the q4_0 model's answers next to the float model's;
// 6. exports GGUF and runs it through the real llama.cpp from here.

// %%
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './lib/backend/init.js';
import { loadModelDir, saveModelDir } from './lib/io/model-dir.js';
import { Dense } from './lib/model/linear.js';
import { LlamaModel } from './lib/model/model.js';
import { showMarkdown, showPlotly } from './lib/viz/display.js';
import { plotlyFigure, scatterPlot } from './lib/viz/plotly.js';

const backend = await initBackend('auto');
const started = performance.now();
const MODEL = 'datasets/models/chat';
const { model: chat, tokenizer } = loadModelDir(MODEL);
const work = mkdtempSync(join(tmpdir(), 'nb12-'));
/** The float32 weight [out, in] of every projection of a float model, by module name. */
const projections = (model: LlamaModel) => new Map(model.projections.map((slot) => [slot.name, slot.get() as Dense]));
console.log(`backend ${backend}; ${MODEL}: ${chat.parameterCount.toLocaleString('en-US')} parameters, ${projections(chat).size} projections (hidden ${chat.config.hidden}, ffn ${chat.config.ffn})`);

// %% [markdown]
// ## 1. Absmax by hand: one scale per tensor, or one per block
//
// The simplest 8-bit code for real numbers x: pick a scale d = max|x| / 127 and store q = round(x / d), an
// integer in [−127, 127]; read back x̂ = d·q. Every value is off by at most d/2. With b bits the levels
// run to 2^(b−1) − 1 (7 for 4 bits), and the step d grows 16× from 8 bits to 4.
//
// The catch is the **max**: one large weight stretches d for every value that shares it. Share a scale over
// a whole tensor and a single outlier coarsens all of it; share one per **block** of 32 and the damage stays
// in that block. The cost of blocks is the scales themselves: a 16-bit scale per 32 weights adds half a bit
// per weight. Below: layer 0's `down_proj` at 8 and 4 bits, one scale or one per block, before and after we
// plant one weight 20× the largest.

// %%
/** x̂ of x with symmetric absmax levels of `bits` bits, one scale per `block` values (Infinity: one for all). */
function absmaxRoundTrip(x: Float32Array, bits: number, block: number): Float32Array {
  const top = 2 ** (bits - 1) - 1; // 127 for 8 bits, 7 for 4
  const out = new Float32Array(x.length);
  const size = Math.min(block, x.length);
  for (let start = 0; start < x.length; start += size) {
    let amax = 0;
    for (let i = start; i < start + size; i++) amax = Math.max(amax, Math.abs(x[i]!));
    const d = amax / top;
    for (let i = start; i < start + size; i++) out[i] = d === 0 ? 0 : d * Math.round(x[i]! / d);
  }
  return out;
}
const rms = (x: Float32Array, y: Float32Array) => Math.sqrt(x.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0) / x.length);

const down = projections(chat).get('model.layers.0.mlp.down_proj')!.weight.dataSync() as Float32Array;
const spiked = down.slice();
spiked[1000] = 20 * Math.max(...down.map(Math.abs));
const rows: string[] = [];
for (const bits of [8, 4]) {
  for (const [label, block] of [['one per tensor', Infinity], ['one per 32', 32]] as const) {
    const plain = rms(down, absmaxRoundTrip(down, bits, block));
    const withSpike = rms(spiked, absmaxRoundTrip(spiked, bits, block)); // the error on the other weights dominates
    rows.push(`| ${bits} | ${label} | ${plain.toExponential(2)} | ${withSpike.toExponential(2)} | ${(withSpike / plain).toFixed(1)}× |`);
  }
}
const std = Math.sqrt(down.reduce((s, v) => s + v * v, 0) / down.length);
showMarkdown(`weights of layer 0's down_proj: ${down.length.toLocaleString('en-US')} values, RMS ${std.toExponential(2)}\n\n| bits | scale | RMS error | RMS error with one outlier | outlier's cost |\n|---:|---|---:|---:|---:|\n${rows.join('\n')}`);

// %% [markdown]
// One scale for the tensor is fine while nothing sticks out; one outlier multiplies its error by an order
// of magnitude, and at 4 bits rounds most weights to zero. Per-block scales barely notice. Trained models
// do grow outlier weights and features (the LLM.int8() paper's observation), which is why every practical
// format scales blocks.
//
// ## 2. Q8_0 and Q4_0, byte by byte
//
// `lib/quant/` holds GGUF's two simplest block formats, 32 weights per block:
//
// | format | per block | bits per weight | value |
// |---|---|---:|---|
// | Q8_0 | float16 d = max\|x\|/127, then 32 int8 q | (2 + 32)·8/32 = **8.5** | d·q |
// | Q4_0 | float16 d = m/−8 (m: the weight of largest magnitude, with its sign), then 16 bytes of two 4-bit levels q ∈ [0, 15] | (2 + 16)·8/32 = **4.5** | d·(q − 8) |
//
// Q4_0's scale is signed so that the extreme weight lands exactly on level 0 (d·(0 − 8) = m) and the 16
// levels cover [−8d, 7d]: the full range on one side, one level short on the other. Byte j of the levels
// holds weight j in its low nibble and weight j + 16 in its high one. Here is the first block of that
// `down_proj` in both, as the file stores it:

// %%
import { halfToFloat } from './lib/io/float16.js';
import { dequantize, quantize, QUANT_FORMATS } from './lib/quant/types.js';

const first = down.subarray(0, 32);
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
for (const type of ['q8_0', 'q4_0'] as const) {
  const bytes = quantize(first, QUANT_FORMATS[type]);
  const back = dequantize(bytes, QUANT_FORMATS[type]);
  const d = halfToFloat(bytes[0]! | (bytes[1]! << 8));
  console.log(`${type}: ${bytes.length} bytes: [${hex(bytes.subarray(0, 2))}] [${hex(bytes.subarray(2))}]`);
  console.log(`  d = ${d.toExponential(4)}; weight 0 ${first[0]!.toFixed(5)} → ${back[0]!.toFixed(5)}, weight 16 ${first[16]!.toFixed(5)} → ${back[16]!.toFixed(5)}; max error ${Math.max(...first.map((v, i) => Math.abs(v - back[i]!))).toExponential(2)} (d/2 = ${(Math.abs(d) / 2).toExponential(2)})`);
}

// %% [markdown]
// ## 3. The error per bit width, over the whole model
//
// The histogram gathers x − x̂ for all 42 projections of the chat model, each divided by its tensor's RMS so
// that layers compare. Q8_0 errors spread over ±1/254 of each block's largest weight; Q4_0's are 16× wider —
// 4 bits fewer is 2⁴ coarser — and that is where its perplexity goes.

// %%
const BINS = 121, RANGE = 0.3; // errors within ±0.3 RMS, bins of 0.005
const histogram: Record<'q8_0' | 'q4_0', number[]> = { q8_0: new Array<number>(BINS).fill(0), q4_0: new Array<number>(BINS).fill(0) };
const sumSquares = { q8_0: 0, q4_0: 0 };
let counted = 0;
for (const [, dense] of projections(chat)) {
  const w = dense.weight.dataSync() as Float32Array;
  const scale = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  counted += w.length;
  for (const type of ['q8_0', 'q4_0'] as const) {
    const back = dequantize(quantize(w, QUANT_FORMATS[type]), QUANT_FORMATS[type]);
    for (let i = 0; i < w.length; i++) {
      const e = (w[i]! - back[i]!) / scale;
      sumSquares[type] += e * e;
      const bin = Math.round(((e + RANGE) / (2 * RANGE)) * (BINS - 1));
      if (bin >= 0 && bin < BINS) histogram[type][bin]!++;
    }
  }
}
const centres = Array.from({ length: BINS }, (_, i) => -RANGE + (2 * RANGE * i) / (BINS - 1));
const errorFigure = plotlyFigure(
  (['q8_0', 'q4_0'] as const).map((type) => ({ type: 'bar', name: type, x: centres, y: histogram[type], opacity: 0.6 })),
  { title: `x − x̂ over every projection (${counted.toLocaleString('en-US')} weights), in units of its tensor's RMS`, xTitle: 'error / RMS of the tensor', yTitle: 'weights', logY: true },
);
errorFigure.layout.barmode = 'overlay';
showPlotly(errorFigure);
for (const type of ['q8_0', 'q4_0'] as const) console.log(`${type}: RMS error ${Math.sqrt(sumSquares[type] / counted).toFixed(4)} of the weights' RMS`);

// %% [markdown]
// ## 4. Perplexity against bits and size
//
// `quantizeModel` (what `tinyllm quantize` runs) replaces every projection with a `QuantizedLinear`, the
// quantized kind of `Linear`: the blocks stay packed; a decoding step multiplies straight from them (a SIMD
// WebAssembly kernel on the CPU, a CUDA kernel on the GPU), and a prompt unpacks them for the ordinary
// matrix product. The embeddings, the LM head and the norms stay in
// float: they are a small share of a large model (and half of this tiny one, whose 6,400-token vocabulary is
// big next to its width of 120), and the head's errors go straight into every logit.
//
// Our blocks run along the flattened weight, so the 120-wide rows here (3.75 blocks) quantize too; GGUF
// requires whole blocks per row, so llama.cpp's files of this model quantize only `down_proj` (section 6).
// Next to the block formats: one scale per tensor at 4 bits, as a float model holding its unpacked
// weights — what blocks save us from.

// %%
import { evaluatePerplexity } from './lib/eval/perplexity.js';
import { readPplDocuments } from './lib/eval/texts.js';
import { quantizeModel } from './lib/quant/quantize-model.js';

const documents = [
  ...(await readPplDocuments('datasets/eval/ppl/zh-modern.jsonl.gz', tokenizer!, { limit: 6 })).documents,
  ...(await readPplDocuments('datasets/eval/ppl/zh-classical.jsonl.gz', tokenizer!, { limit: 40 })).documents,
];
/** A float model whose projections hold `roundTrip` of the chat model's weights. */
function withWeights(roundTrip: (w: Float32Array) => Float32Array): LlamaModel {
  const tensors = new Map<string, tf.Tensor>(chat.params);
  for (const [name, dense] of projections(chat)) tensors.set(`${name}.weight`, tf.tensor(roundTrip(dense.weight.dataSync() as Float32Array), dense.weight.shape));
  return new LlamaModel(chat.config, tensors);
}
const variants: { name: string; bits: number; model: LlamaModel; dtype: 'float32' | 'bfloat16' }[] = [
  { name: 'float32', bits: 32, model: chat, dtype: 'float32' },
  { name: 'bfloat16 (as shipped)', bits: 16, model: chat, dtype: 'bfloat16' },
  { name: 'q8_0', bits: 8.5, model: quantizeModel(chat, 'q8_0'), dtype: 'bfloat16' },
  { name: 'q4_0', bits: 4.5, model: quantizeModel(chat, 'q4_0'), dtype: 'bfloat16' },
  { name: '4-bit, one scale per tensor', bits: 4, model: withWeights((w) => absmaxRoundTrip(w, 4, Infinity)), dtype: 'bfloat16' },
];
const measured = variants.map((v) => {
  const dir = join(work, v.name.split(' ')[0]!);
  if (!v.name.startsWith('4-bit')) saveModelDir(v.model, dir, { tokenizer: tokenizer!, dtype: v.dtype });
  const mib = v.name.startsWith('4-bit') ? NaN : statSync(join(dir, 'model.safetensors')).size / 2 ** 20;
  return { ...v, dir, mib, ppl: evaluatePerplexity(v.model, documents, { batch: 8 }).total };
});
showMarkdown(`${documents.length} held-out documents, ${measured[0]!.ppl.tokens.toLocaleString('en-US')} tokens\n\n| weights | bits per projection weight | model.safetensors | perplexity | bits per byte |\n|---|---:|---:|---:|---:|\n${
  measured.map((m) => `| ${m.name} | ${m.bits} | ${Number.isNaN(m.mib) ? '—' : `${m.mib.toFixed(2)} MiB`} | ${m.ppl.ppl.toFixed(3)} | ${m.ppl.bpb.toFixed(4)} |`).join('\n')}`);
showPlotly(scatterPlot(measured.map((m) => ({ name: m.name, x: [m.bits], y: [m.ppl.ppl], text: [Number.isNaN(m.mib) ? '' : `${m.mib.toFixed(2)} MiB`] })), {
  title: 'Perplexity against bits per projection weight', xTitle: 'bits per weight (log scale)', yTitle: 'perplexity', logX: true,
}));

// %% [markdown]
// bfloat16 changes nothing (the shipped weights are bfloat16 values already); q8_0 moves perplexity in the
// third digit; q4_0 costs a few percent; one scale per tensor at 4 bits is far worse than blocks at 4.5.
// The files shrink less than the bits suggest because the float embeddings and head are half of this
// model; at the `92m` preset (hidden 512) the projections are 80% of the weights and q4_0 is ~3.5× smaller
// than bfloat16.
//
// ## 5. The q4_0 model answers next to the float one

// %%
import { generate, generateText } from './lib/infer/sampling.js';
import { renderChat } from './lib/tokenizer/chat.js';

const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1.1, maxNewTokens: 48 };
const questions = ['你是谁？', '请介绍一下长城。', '写一首关于春天的短诗。'];
const answer = (model: LlamaModel, q: string) => generateText(model, tokenizer!, renderChat([{ role: 'user', content: q }], { addGenerationPrompt: true }), greedy).replace(/\n/g, ' ');
showMarkdown(`| question | float32 | q4_0 |\n|---|---|---|\n${questions.map((q) => `| ${q} | ${answer(chat, q)} | ${answer(measured[3]!.model, q)} |`).join('\n')}`);

// %% [markdown]
// ## 6. GGUF, and the real llama.cpp
//
// `tinyllm export --format gguf` writes the model as one GGUF file — llama.cpp's format, also read by
// Ollama and LM Studio: metadata (architecture `llama`, sizes, RoPE base, the tokenizer's tokens, merges
// and chat template) followed by the tensors, with Q and K rows reordered into llama.cpp's RoPE layout. The
// same code runs here. Then we load the file with **node-llama-cpp**, the npm build of stock llama.cpp
// (installed on first use into `test/artifacts/llama-cpp`, as its tests do), and let both continue the
// same chat greedily.

// %%
import { exportGguf } from './lib/io/gguf-export.js';
import { getLlamaCpp, loadLlamaCpp } from './test/llama-cpp.js';

const gguf = join(work, 'chat-q8_0.gguf');
const report = exportGguf(MODEL, gguf, 'q8_0');
console.log(`wrote ${gguf}: ${(report.bytes / 2 ** 20).toFixed(2)} MiB, ${report.tensors.length} tensors: ${report.tensors.filter((t) => t.type === 'Q8_0').length} Q8_0 (ffn_down, whose rows are whole blocks), the rest F16/F32`);
const prompt = tokenizer!.encode(renderChat([{ role: 'user', content: questions[1]! }], { addGenerationPrompt: true }));
try {
  const { module, installSeconds } = await loadLlamaCpp();
  if (installSeconds > 0) console.log(`installed node-llama-cpp in ${installSeconds.toFixed(0)} s`);
  const llama = await getLlamaCpp(module);
  const m = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
  const sameIds = JSON.stringify(m.tokenize(renderChat([{ role: 'user', content: questions[1]! }], { addGenerationPrompt: true }), true)) === JSON.stringify(prompt);
  const context = await m.createContext({ contextSize: 512, threads: 1, flashAttention: false });
  const theirs: number[] = [];
  for await (const id of context.getSequence().evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
    theirs.push(id);
    if (theirs.length === 32 || id === tokenizer!.specialId('<|im_end|>')) break;
  }
  await context.dispose();
  await m.dispose();
  await llama.dispose();
  const ours = generate(chat, prompt, { ...greedy, repetitionPenalty: 1, maxNewTokens: theirs.length });
  console.log(`llama.cpp tokenizes the prompt as we do: ${sameIds}`);
  console.log(`llama.cpp (q8_0 GGUF): ${tokenizer!.decode(theirs)}`);
  console.log(`ours (float32):        ${tokenizer!.decode(ours)}`);
  console.log(`the same ${theirs.filter((id, i) => id === ours[i]).length} of ${theirs.length} greedy tokens`);
} catch (err) {
  console.log(`llama.cpp is not available here (${(err as Error).message.split('\n')[0]}); the GGUF file is written, and runs in llama-cli, Ollama or LM Studio`);
}

// %% [markdown]
// From the command line:
//
// ```bash
// npx tinyllm quantize --model datasets/models/chat --type q4_0 --out runs/chat-q4     # a quantized model dir
// npx tinyllm chat --model runs/chat-q4                                               # every command runs it
// npx tinyllm eval --model runs/chat-q4 --task ppl --data datasets/eval/ppl
// npx tinyllm export --model datasets/models/chat --type q8_0 --out chat-q8_0.gguf    # for llama.cpp
// llama-cli -m chat-q8_0.gguf -cnv                                                     # if you have llama.cpp
// ```
//
// ## Exercises
//
// In `exercises/12-quantization.ts`, implement `q8Quantize` and `q8Dequantize` (one Q8_0 block, exactly as
// llama.cpp rounds it), `packNibbles` and `unpackNibbles` (Q4_0's two levels per byte) and `quantError`
// (max and RMS error and the signal-to-noise ratio), then run `npm run check -- 12`: the tests compare
// them with llama.cpp's own quantizer on trained-like weights, and check the ~6 dB that each bit buys.

// %%
import * as mine from './exercises/12-quantization.js';

try {
  const block = Array.from(first);
  const yours = mine.q8Quantize(block);
  const libBytes = quantize(first, QUANT_FORMATS.q8_0);
  console.log('your q8_0 levels are llama.cpp\'s:', yours.q.every((q, j) => q === (libBytes[2 + j]! << 24) >> 24));
  console.log('your error of that block:', mine.quantError(block, mine.q8Dequantize(yours)));
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
for (const v of measured) if (v.model !== chat) v.model.dispose();
chat.dispose();
console.log(`notebook ran in ${((performance.now() - started) / 1000).toFixed(0)} s`);
