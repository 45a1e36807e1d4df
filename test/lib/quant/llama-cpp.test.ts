// `tinyllm export --format gguf` against stock llama.cpp (node-llama-cpp 3.22.1's prebuilt CPU build,
// installed on demand by test/llama-cpp.ts), on the shipped chat model exported as f32, f16, q8_0 and q4_0:
// - llama.cpp's tokenizer gives our ids (SFT validation chats with special tokens, and odd text);
// - f32 and f16: llama.cpp's greedy continuations equal ours token for token, and its logits at every
//   position are within a stated tolerance of ours;
// - q8_0: the same against our q8_0 inference on the file's weights (ffn_down as q8_0 blocks in our
//   quantized Linear, the rest rounded to float16), except that a continuation may part from ours where our two best logits are
//   closer than the tolerance: llama.cpp rounds activations too (see LOGIT_TOLERANCE), which can flip a
//   near-tie;
// - q4_0: loads and generates; how far it agrees with ours is printed, not asserted;
// - a grouped-query model with tied embeddings (random weights, f32): logits equal ours, so the key rows'
//   reordering with fewer heads and the missing output.weight are right too.
// TINYLLM_SKIP_LLAMA_CPP=1 skips this file (offline); otherwise a failed install fails it.
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { floatToHalf, halfToFloat } from '../../../lib/io/float16.js';
import { exportGguf, type GgufExportType } from '../../../lib/io/gguf-export.js';
import { loadModelDir, readModelConfig, saveModelDir } from '../../../lib/io/model-dir.js';
import { readSafetensors } from '../../../lib/io/safetensors.js';
import { generate } from '../../../lib/infer/sampling.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LlamaModel, parameterShapes } from '../../../lib/model/model.js';
import { QuantizedLinear } from '../../../lib/model/quantized-linear.js';
import { renderChat, type ChatMessage } from '../../../lib/tokenizer/chat.js';
import type { Tokenizer } from '../../../lib/tokenizer/tokenizer.js';
import { getLlamaCpp, type LlamaCpp, type LlamaCppSequence, llamaCppSkipReason, loadLlamaCpp, NODE_LLAMA_CPP_VERSION } from '../../llama-cpp.js';

await initBackend('cpu', { quiet: true });

const MODEL = 'datasets/models/chat';
const TYPES: GgufExportType[] = ['f32', 'f16', 'q8_0', 'q4_0'];
const NEW_TOKENS = 32;
// Largest |logit difference| from ours over every position of a prompt and its continuation, teacher-
// forced. f32: only the order of float32 sums differs (measured ≤ 1.1e-5). f16 and q8_0: llama.cpp's CPU
// matmuls also round the activations, to float16 for F16 weights and to Q8_0 blocks for Q8_0 ones, which
// our float32 products do not (measured ≤ 0.016 for f16 against our float32 model, ≤ 0.28 for q8_0
// against our model with the file's weights).
const LOGIT_TOLERANCE: Partial<Record<GgufExportType, number>> = { f32: 1e-3, f16: 0.05, q8_0: 0.4 };

/**
 * The prompts: Chinese poetry, English, and a ChatML question from the SFT validation set — chosen so
 * that at each of the 32 greedy steps our two best logits differ by at least MIN_MARGIN (their smallest
 * gaps: 0.097, 0.233, 0.123; 床前明月光 has a step at 0.0001, a coin toss for any other implementation),
 * so that token-for-token equality tests the file, not rounding luck.
 */
function prompts(): string[] {
  return ['春眠不觉晓，', 'Call me Ishmael.', renderChat([valConversations()[0]![0]!], { addGenerationPrompt: true })];
}
/** The smallest gap between our two best logits over the greedy steps that the f32/f16 comparison relies on (≥ 3× f16's deviation). */
const MIN_MARGIN = 0.05;

/** The smallest gap between the best and second-best logit over rows [from, to) of logits [T, V]. */
function smallestMargin(logits: number[][], from: number, to: number): number {
  let smallest = Infinity;
  for (let t = from; t < to; t++) {
    let [first, second] = [-Infinity, -Infinity];
    for (const v of logits[t]!) {
      if (v > first) [first, second] = [v, first];
      else if (v > second) second = v;
    }
    smallest = Math.min(smallest, first - second);
  }
  return smallest;
}

/** The SFT validation conversations. */
function valConversations(): ChatMessage[][] {
  return gunzipSync(readFileSync('datasets/sft/val.jsonl.gz')).toString('utf8').trim().split('\n')
    .map((line) => (JSON.parse(line) as { conversations: ChatMessage[] }).conversations);
}

const float16Weights = new Map<string, Float32Array>();

/**
 * Our model as a GGUF file of this type stores it: ffn_down in `block`, run by our quantized Linear
 * (the same blocks: they are gguf's byte for byte), float16 on the other 2-D weights.
 */
function modelAsStored(block: 'q8_0' | 'q4_0'): LlamaModel {
  const config = readModelConfig(MODEL);
  const params = new Map<string, tf.Tensor>();
  const quantized = new Map<string, QuantizedLinear>();
  for (const [name, t] of readSafetensors(join(MODEL, 'model.safetensors')).tensors) {
    // The shipped model has hidden 120: only ffn_down's rows (384) are whole 32-value blocks.
    if (name.endsWith('mlp.down_proj.weight')) {
      quantized.set(name.replace(/\.weight$/, ''), QuantizedLinear.fromWeight(block, tf.tensor(t.values, t.shape)));
      continue;
    }
    let values = t.values;
    if (t.shape.length === 2) {
      if (!float16Weights.has(name)) float16Weights.set(name, t.values.map((v) => halfToFloat(floatToHalf(v))));
      values = float16Weights.get(name)!;
    }
    params.set(name, tf.tensor(values, t.shape));
  }
  try {
    return new LlamaModel(config, params, `${MODEL} as ${block}`, quantized);
  } finally {
    params.forEach((t) => t.dispose());
  }
}

/** Our logits [T, V] for a sequence of ids. */
function ourLogits(model: LlamaModel, ids: number[]): number[][] {
  return tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits.arraySync()[0]!);
}

/** llama.cpp's greedy continuation from an empty sequence: raw ids, no BOS, through end-of-generation tokens, n of them. */
async function llamaGreedy(sequence: LlamaCppSequence, ids: number[], n: number): Promise<number[]> {
  await sequence.clearHistory();
  const out: number[] = [];
  for await (const id of sequence.evaluate(ids, { temperature: 0, yieldEogToken: true })) {
    out.push(id);
    if (out.length === n) break;
  }
  return out;
}

/** llama.cpp's logits at every position of `ids` (teacher-forced from an empty sequence), [T, V]. */
async function llamaLogits(sequence: LlamaCppSequence, ids: number[], vocab: number): Promise<Float32Array[]> {
  await sequence.clearHistory();
  const results = await sequence.controlledEvaluate(ids.map((id) => [id, { generateNext: { logits: true } }]));
  return results.map((r, t) => {
    const logits = r?.next.logits;
    if (!logits || logits.size !== vocab) throw new Error(`llama.cpp gave no full logits at position ${t}`);
    const row = new Float32Array(vocab);
    for (const [id, value] of logits) row[id] = value;
    return row;
  });
}

/** Where two id lists first differ, or null when they are equal. */
function firstDifference(a: readonly number[], b: readonly number[]): number | null {
  const i = a.findIndex((x, j) => x !== b[j]);
  return i >= 0 ? i : a.length === b.length ? null : Math.min(a.length, b.length);
}

/** The largest |a − b| over rows of logits. */
function maxDifference(a: readonly Float32Array[], b: readonly number[][]): number {
  let worst = 0;
  a.forEach((row, t) => row.forEach((v, id) => {
    worst = Math.max(worst, Math.abs(v - b[t]![id]!));
  }));
  return worst;
}

const skip = llamaCppSkipReason();
if (skip) console.warn(`llama-cpp.test.ts: the llama.cpp tests are skipped: ${skip}`);

describe.skipIf(skip !== null)(skip ? `GGUF in llama.cpp — skipped: ${skip}` : `GGUF in llama.cpp (node-llama-cpp ${NODE_LLAMA_CPP_VERSION})`, () => {
  const files = {} as Record<GgufExportType, string>;
  let llama: LlamaCpp;
  let tokenizer: Tokenizer;
  /** Our models: float32 as shipped, and with the weights of the q8_0 and q4_0 files. */
  const models = {} as Record<'f32' | 'q8_0' | 'q4_0', LlamaModel>;
  const greedy = new Map<string, number[]>();
  /** Our greedy continuation (no repetition penalty, no stop ids: always NEW_TOKENS long), computed once. */
  const ours = (which: keyof typeof models, ids: number[]): number[] => {
    const key = `${which} ${ids.join()}`;
    if (!greedy.has(key)) greedy.set(key, generate(models[which], ids, { maxNewTokens: NEW_TOKENS, temperature: 0, repetitionPenalty: 1 }));
    return greedy.get(key)!;
  };

  beforeAll(async () => {
    const { module, installSeconds } = await loadLlamaCpp();
    const start = performance.now();
    const dir = mkdtempSync(join(tmpdir(), 'gguf-'));
    const sizes: string[] = [];
    for (const type of TYPES) {
      files[type] = join(dir, `chat-${type}.gguf`);
      exportGguf(MODEL, files[type], type);
      sizes.push(`${type} ${(statSync(files[type]).size / 2 ** 20).toFixed(2)} MiB`);
    }
    console.log(`node-llama-cpp ${installSeconds > 0 ? `installed in ${installSeconds.toFixed(1)} s` : 'already installed'}; exported ${sizes.join(', ')} in ${((performance.now() - start) / 1000).toFixed(1)} s`);
    llama = await getLlamaCpp(module);
    const loaded = loadModelDir(MODEL);
    models.f32 = loaded.model;
    tokenizer = loaded.tokenizer!;
    models.q8_0 = modelAsStored('q8_0');
    models.q4_0 = modelAsStored('q4_0');
  }, 600_000);

  afterAll(async () => {
    Object.values(models).forEach((m) => m.dispose());
    await llama?.dispose();
  });

  /** Run `fn` with a sequence of the exported file of `type` (or a GGUF file's path): F32 KV cache, no flash attention, one thread. */
  async function withSequence<R>(type: GgufExportType | string, fn: (sequence: LlamaCppSequence, tokenize: (text: string) => number[]) => Promise<R>): Promise<R> {
    const m = await llama.loadModel({ modelPath: files[type as GgufExportType] ?? type, gpuLayers: 0 });
    try {
      const context = await m.createContext({
        contextSize: 512, threads: 1, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
      });
      try {
        return await fn(context.getSequence(), (text) => Array.from(m.tokenize(text, true)));
      } finally {
        await context.dispose();
      }
    } finally {
      await m.dispose();
    }
  }

  it("llama.cpp's tokenizer gives our ids on 127 Chinese/English lines with special tokens", async () => {
    const chats = valConversations().slice(0, 100).map((c, i) => renderChat(c, { addGenerationPrompt: i % 2 === 0 }));
    const lines = [
      ...chats,
      'Hello, world! How are you doing today?', "I'm sure they'll say it's 'fine' — we've seen THEY'RE & I'LL.",
      '0123456789 3.14159 1,000,000 2024-06-01 12:30:45 +86 138-0000-0000', '   leading spaces', 'trailing spaces   ',
      'tabs\tand\t\tmore\ttabs', 'lines\n\nwith\r\nwindows\rreturns\n', '\n\n\n', '  \n  \n', 'a  b   c    d     e',
      'emoji 😀👍🏽🇨🇳 and ❤️ and 👨‍👩‍👧‍👦 family', 'café naïve Ünïcödé façade Ελληνικά русский', 'ｆｕｌｌ－ｗｉｄｔｈ　ＡＢＣ１２３，。！？',
      '日本語のテキストと한국어 텍스트', '中文，English 混合 text123 和数字４５６。', '《诗经》：“关关雎鸠，在河之洲。”', 'x\u00a0y\u200bz\u3000w',
      'hello<|endoftext|>world<|im_start|>system\nbe brief<|im_end|>', '<|im_start|><|im_end|><|endoftext|>', '<|im_start|user not special|>',
      'https://example.com/path?q=1&r=2#frag', 'def f(x):\n    return x ** 2  # comment\n', '¯\\_(ツ)_/¯ ©®™ ½ ¼ ∑∫√ ≤≥≠',
      'The END.', 'a', ' ', '',
    ];
    expect(lines.length).toBe(127);
    await withSequence('f32', async (_, tokenize) => {
      const mismatches = lines.flatMap((line) => {
        const ids = tokenizer.encode(line); // special-token text becomes its id, as with llama.cpp's parse_special
        const theirs = tokenize(line);
        return JSON.stringify(ids) === JSON.stringify(theirs) ? [] : [{ line, ours: ids, theirs }];
      });
      expect(mismatches).toEqual([]);
    });
    expect(chats.every((c) => tokenizer.encode(c).filter((id) => tokenizer.isSpecial(id)).length >= 4)).toBe(true);
  });

  it.each(['f32', 'f16'] as const)('%s: greedy continuations equal ours token for token, and the logits agree', async (type) => {
    await withSequence(type, async (sequence) => {
      for (const text of prompts()) {
        const ids = tokenizer.encode(text);
        const want = ours('f32', ids);
        const all = [...ids, ...want];
        const logits = ourLogits(models.f32, all);
        const margin = smallestMargin(logits, ids.length - 1, all.length - 1);
        expect(margin, `${JSON.stringify(text)}: a near-tie for our model (retrained?): choose another prompt`).toBeGreaterThan(MIN_MARGIN);
        const theirs = await llamaGreedy(sequence, ids, NEW_TOKENS);
        expect(theirs, `${type} ${JSON.stringify(text)}: ${JSON.stringify(tokenizer.decode(want))} vs ${JSON.stringify(tokenizer.decode(theirs))}`).toEqual(want);
        const worst = maxDifference(await llamaLogits(sequence, all, tokenizer.vocabSize), logits);
        console.log(`${type} ${JSON.stringify(text.slice(0, 24))}: ${NEW_TOKENS} tokens equal; max |logit difference| ${worst.toExponential(2)} over ${all.length} positions`);
        expect(worst).toBeLessThan(LOGIT_TOLERANCE[type]!);
      }
    });
  });

  it('q8_0: greedy continuations equal our q8_0 inference (ffn_down q8_0, the rest float16) up to near-ties, and the logits agree', async () => {
    const tolerance = LOGIT_TOLERANCE.q8_0!;
    await withSequence('q8_0', async (sequence) => {
      let equal = 0;
      for (const text of prompts()) {
        const ids = tokenizer.encode(text);
        const want = ours('q8_0', ids);
        const theirs = await llamaGreedy(sequence, ids, NEW_TOKENS);
        const all = [...ids, ...want];
        const logits = ourLogits(models.q8_0, all);
        const worst = maxDifference(await llamaLogits(sequence, all, tokenizer.vocabSize), logits);
        expect(worst).toBeLessThan(tolerance);
        const d = firstDifference(theirs, want);
        if (d === null) {
          equal++;
          console.log(`q8_0 ${JSON.stringify(text.slice(0, 24))}: ${NEW_TOKENS} tokens equal; max |logit difference| ${worst.toExponential(2)}`);
          continue;
        }
        // Parting is allowed only at a near-tie: our logit of llama.cpp's choice is within the tolerance of our best.
        const row = logits[ids.length + d - 1]!;
        const margin = row[want[d]!]! - row[theirs[d]!]!;
        console.log(`q8_0 ${JSON.stringify(text.slice(0, 24))}: equal up to token ${d}, where our best two logits (${want[d]} vs llama.cpp's ${theirs[d]}) differ by ${margin.toExponential(2)}; max |logit difference| ${worst.toExponential(2)}`);
        expect(margin, `q8_0 ${JSON.stringify(text)}: parts from ours at token ${d} by ${margin}`).toBeLessThan(tolerance);
      }
      console.log(`q8_0: ${equal} of ${prompts().length} continuations equal ours token for token`);
    });
  });

  it('q4_0: loads and generates; agreement with ours is reported', async () => {
    await withSequence('q4_0', async (sequence) => {
      for (const text of prompts()) {
        const ids = tokenizer.encode(text);
        const theirs = await llamaGreedy(sequence, ids, NEW_TOKENS);
        expect(theirs).toHaveLength(NEW_TOKENS);
        expect(theirs.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize)).toBe(true);
        const show = (d: number | null) => (d === null ? `all ${NEW_TOKENS} equal` : `equal up to token ${d}`);
        console.log(`q4_0 ${JSON.stringify(text.slice(0, 24))}: vs ours with the same weights ${show(firstDifference(theirs, ours('q4_0', ids)))}; vs ours in float32 ${show(firstDifference(theirs, ours('f32', ids)))}; ${JSON.stringify(tokenizer.decode(theirs).slice(0, 40))}`);
      }
    });
  });
  it("a grouped-query model with tied embeddings (k_proj of 2 heads for 4, no output.weight): llama.cpp's logits equal ours", async () => {
    // Random weights large enough for logits of a few units; norms near 1.
    const config = presetConfig('nano', { vocabSize: tokenizer.vocabSize, hidden: 64, ffn: 96, layers: 2, heads: 4, kvHeads: 2, maxSeq: 512, tieEmbeddings: true });
    const params = new Map(parameterShapes(config).map(([name, shape], i): [string, tf.Tensor] => [
      name, shape.length === 1 ? tf.add(1, tf.randomNormal(shape, 0, 0.1, 'float32', i + 1)) : tf.randomNormal(shape, 0, 0.3, 'float32', i + 1),
    ]));
    const gqa = new LlamaModel(config, params);
    params.forEach((t) => t.dispose());
    try {
      const dir = mkdtempSync(join(tmpdir(), 'gqa-'));
      saveModelDir(gqa, dir, { tokenizer });
      exportGguf(dir, join(dir, 'gqa.gguf'), 'f32');
      const ids = tokenizer.encode(renderChat([{ role: 'user', content: 'Grouped-query attention: 分组查询注意力。' }], { addGenerationPrompt: true }));
      const want = ourLogits(gqa, ids);
      const scale = want.reduce((m, row) => row.reduce((a, v) => Math.max(a, Math.abs(v)), m), 0);
      const got = await withSequence(join(dir, 'gqa.gguf'), (sequence) => llamaLogits(sequence, ids, tokenizer.vocabSize));
      const worst = maxDifference(got, want);
      console.log(`grouped-query, tied: max |logit difference| ${worst.toExponential(2)} over ${ids.length} positions (logits up to ${scale.toFixed(1)})`);
      expect(scale).toBeGreaterThan(1);
      expect(worst).toBeLessThan(LOGIT_TOLERANCE.f32!);
    } finally {
      gqa.dispose();
    }
  });
});
