// %% [markdown]
// # 09 · LoRA: fine-tuning through a low-rank update
//
// Full fine-tuning (notebook 08) updates every weight: for each one AdamW keeps two more numbers, and the
// result is a whole new model to store. **LoRA** (Hu et al., 2021) freezes the model and trains, next to a
// projection W [out, in], two thin matrices A [r, in] and B [out, r] with r ≪ in, out:
//
// y = x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ
//
// The weight the layer acts with is W + (α/r)·B·A — W plus an update of rank at most r. B starts at 0, so
// training starts exactly from the model as it was. This notebook:
//
// 1. **Why low rank?** The real weight change of our full SFT (the shipped chat model minus the base),
//    taken apart into singular values.
// 2. **What trains**: LoRA's parameters vs full fine-tuning's, for every preset.
// 3. **The layer** on the shipped chat model: unchanged logits at B = 0, only A and B trainable.
// 4. **A new identity** in about a minute on the CPU: rename the chat model to 小星 (Xiaoxing).
// 5. **Save, load, merge**: the adapter in Hugging Face peft's format, folded into the weights.

// %%
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { initBackend } from './lib/backend/init.js';
import { loadModelDir } from './lib/io/model-dir.js';
import { readSafetensors } from './lib/io/safetensors.js';
import { LORA_TARGETS, LoraAdapter } from './lib/model/lora.js';
import { plotlyFigure } from './lib/viz/plotly.js';
import { showMarkdown, showPlotly } from './lib/viz/display.js';

const backend = await initBackend('auto');
const work = mkdtempSync(join(tmpdir(), 'lora-'));
const started = performance.now();

// %% [markdown]
// ## 1. Why low rank?
//
// `datasets/models/base` is the `16m` preset after pretraining, `datasets/models/chat` the same model after
// full SFT on `datasets/sft` (900 steps on a GPU). Their difference Δ = W_chat − W_base, per projection, is
// what full fine-tuning did. How much of it could a rank-r update express? The singular value decomposition
// answers: Δ = Σᵢ σᵢ·uᵢ·vᵢᵀ, and the best rank-k approximation keeps the k largest terms (Eckart–Young),
// capturing the share Σᵢ≤ₖ σᵢ² / Σᵢ σᵢ² of Δ's energy ‖Δ‖²_F.
//
// The σᵢ² are the eigenvalues of the symmetric matrix ΔᵀΔ (or ΔΔᵀ, whichever is smaller: every matrix here
// is at most 120 × 120). We find them with **Jacobi rotations**: rotate rows and columns p, q of the
// symmetric matrix by the angle that zeroes its entry (p, q); sweep over all pairs until nothing is left off
// the diagonal, which then holds the eigenvalues. Slow for big matrices, but twenty lines, exact to rounding.

// %%
/** Eigenvalues of the symmetric n × n matrix `a` (row-major; overwritten), largest first, by cyclic Jacobi rotations. */
function symmetricEigenvalues(a: Float64Array, n: number): number[] {
  const at = (i: number, j: number) => a[i * n + j]!;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0, total = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { total += at(i, j) ** 2; if (i !== j) off += at(i, j) ** 2; }
    if (off <= 1e-22 * total) break; // the diagonal holds all but a 1e-22 share of the mass: done
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        if (at(p, q) === 0) continue;
        // The rotation [[c, s], [−s, c]] in the plane (p, q) that makes the new a[p][q] zero:
        // t = tan θ is the smaller root of t² + 2τt − 1 = 0, τ = (a_qq − a_pp) / (2·a_pq).
        const tau = (at(q, q) - at(p, p)) / (2 * at(p, q));
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(tau * tau + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) { // a ← a·J: columns p and q
          const kp = at(k, p), kq = at(k, q);
          a[k * n + p] = c * kp - s * kq;
          a[k * n + q] = s * kp + c * kq;
        }
        for (let k = 0; k < n; k++) { // a ← Jᵀ·a: rows p and q
          const pk = at(p, k), qk = at(q, k);
          a[p * n + k] = c * pk - s * qk;
          a[q * n + k] = s * pk + c * qk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => at(i, i)).sort((x, y) => y - x);
}

/** Singular values of the rows × cols matrix `d` (row-major), largest first: √ of the eigenvalues of dᵀd or ddᵀ. */
function singularValues(d: ArrayLike<number>, rows: number, cols: number): number[] {
  const n = Math.min(rows, cols);
  const gram = new Float64Array(n * n);
  // cols ≤ rows: gram = dᵀd [cols, cols]; else gram = ddᵀ [rows, rows]. Both have the σᵢ² as eigenvalues.
  const entry = cols <= rows ? (r: number, i: number) => d[r * cols + i]! : (c: number, i: number) => d[i * cols + c]!;
  const length = Math.max(rows, cols);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < length; k++) sum += entry(k, i) * entry(k, j);
      gram[i * n + j] = gram[j * n + i] = sum;
    }
  }
  return symmetricEigenvalues(gram, n).map((e) => Math.sqrt(Math.max(0, e)));
}

// A check on a matrix whose singular values we know: rows (0, 3), (4, 0), (0, 0) → 4 and 3.
console.log('singular values of [[0, 3], [4, 0], [0, 0]]:', singularValues([0, 3, 4, 0, 0, 0], 3, 2));

// %% [markdown]
// Now every projection of the six layers. Both models are stored in bfloat16 (8 bits of mantissa), so Δ also
// holds rounding noise — about 0.2% of a weight, against a change of 15–20%: it does not matter here. As a
// yardstick, a random Gaussian matrix of the same shape: its energy is spread evenly, with no direction
// preferred.

// %%
const base = readSafetensors('datasets/models/base/model.safetensors').tensors;
const chat = readSafetensors('datasets/models/chat/model.safetensors').tensors;
const kinds = Object.values(LORA_TARGETS); // q_proj … down_proj
const ranks = [4, 8, 16];
/** Share of Σσ² in the k largest σ. */
const energyShare = (sv: number[], k: number) => sv.slice(0, k).reduce((s, x) => s + x * x, 0) / sv.reduce((s, x) => s + x * x, 0);
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

const spectra = kinds.map((kind) => {
  const layers = Array.from({ length: 6 }, (_, l) => {
    const name = [...base.keys()].find((n) => n.startsWith(`model.layers.${l}.`) && n.endsWith(`.${kind}.weight`))!;
    const w = base.get(name)!;
    const [rows, cols] = w.shape as [number, number];
    const delta = Float64Array.from(chat.get(name)!.values, (v, i) => v - w.values[i]!);
    const norm = (xs: ArrayLike<number>) => Math.sqrt(Array.from(xs).reduce((s, x) => s + x * x, 0));
    return { shape: [rows, cols], sv: singularValues(delta, rows, cols), relative: norm(delta) / norm(w.values) };
  });
  const [rows, cols] = layers[0]!.shape as [number, number];
  const noise = tf.tidy(() => tf.randomNormal([rows, cols], 0, 1, 'float32', 9).dataSync());
  return {
    kind, shape: `${rows} × ${cols}`,
    shares: ranks.map((k) => mean(layers.map((l) => energyShare(l.sv, k)))),
    random8: energyShare(singularValues(noise, rows, cols), 8),
    relative: mean(layers.map((l) => l.relative)),
  };
});

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const fig = plotlyFigure([
  ...ranks.map((k, i) => ({ type: 'bar', name: `rank ${k}`, x: kinds, y: spectra.map((s) => s.shares[i]!) })),
  { type: 'bar', name: 'random matrix, rank 8', x: kinds, y: spectra.map((s) => s.random8), marker: { color: '#bbbbbb' } },
], { title: 'share of the full-SFT update Δ = chat − base that rank k captures (mean of 6 layers)', yTitle: 'Σσ² up to k / Σσ²', height: 360 });
fig.layout.barmode = 'group';
fig.layout.yaxis = { ...(fig.layout.yaxis as object), range: [0, 1], tickformat: '.0%' };
showPlotly(fig);
showMarkdown(`| projection | shape [out, in] | ‖Δ‖ / ‖W‖ | rank 4 | rank 8 | rank 16 | random, rank 8 |
|---|---|---:|---:|---:|---:|---:|
${spectra.map((s) => `| ${s.kind} | ${s.shape} | ${s.relative.toFixed(2)} | ${s.shares.map(pct).join(' | ')} | ${pct(s.random8)} |`).join('\n')}`);

// %% [markdown]
// Full SFT moved each projection by 15–20% of its norm, and that move is **not** low rank: rank 8 holds about
// 40% of the change in q and k, a third in v and o, a fifth in the MLP — more than a random matrix's share
// (its top directions are real), but far from all of it. Biderman et al. (2024, *LoRA Learns Less and
// Forgets Less*) measured the same on 7B models: full fine-tuning's updates have 10–100× the rank of typical
// LoRA configurations. So LoRA does not reproduce what full fine-tuning does; its bet (Hu et al., after
// Aghajanyan et al.'s *intrinsic dimension* of fine-tuning) is that **a** low-rank update is enough for a
// task — full fine-tuning just has no reason to find the small one. Our SFT taught the base a new way to
// behave (answer, in the chat template, and stop); a narrow change — a new name — is what a small rank is
// made for. Section 4 tries exactly that.
//
// ## 2. What trains
//
// A projection [out, in] adapted at rank r trains r·(in + out) numbers instead of in·out. At rank 8 on all
// seven projections (q, k, v, o, gate, up, down; the embedding, head and norms stay frozen), for every preset
// at our 6,400-token vocabulary — and AdamW's state, two float32 numbers per trained parameter:

// %%
import { countParameters, PRESETS, presetConfig, type ModelConfig } from './lib/model/config.js';

/** LoRA's trained parameters from the shapes alone: each targeted projection [out, in] adds rank·(in + out). */
function loraParameters(c: ModelConfig, rank: number, targets: readonly string[]): number {
  const kv = (c.kvHeads * c.hidden) / c.heads; // width of K and V (grouped-query attention)
  const mlps = c.moe ? c.moe.experts + c.moe.sharedExperts : 1; // every expert has its own gate, up, down
  const shapes: Record<string, [number, number, number]> = { // [out, in, copies per layer]
    q_proj: [c.hidden, c.hidden, 1], k_proj: [kv, c.hidden, 1], v_proj: [kv, c.hidden, 1], o_proj: [c.hidden, c.hidden, 1],
    gate_proj: [c.ffn, c.hidden, mlps], up_proj: [c.ffn, c.hidden, mlps], down_proj: [c.hidden, c.ffn, mlps],
  };
  return c.layers * targets.reduce((n, t) => n + shapes[t]![2] * rank * (shapes[t]![0] + shapes[t]![1]), 0);
}

/** AdamW's m and v for `params` parameters, in float32. */
const adamState = (params: number) => (8 * params < 2 ** 30 ? `${((8 * params) / 2 ** 20).toFixed(1)} MiB` : `${((8 * params) / 2 ** 30).toFixed(1)} GiB`);
const millions = (n: number) => `${(n / 1e6).toFixed(n < 1e6 ? 3 : 2)}M`;
showMarkdown(`| preset | full fine-tuning | LoRA r = 8, all seven | share | AdamW state, full | AdamW state, LoRA |
|---|---:|---:|---:|---:|---:|
${Object.keys(PRESETS).map((name) => {
  const c = presetConfig(name);
  const full = countParameters(c).total, lora = loraParameters(c, 8, kinds);
  return `| ${name} | ${millions(full)} | ${millions(lora)} | ${(100 * lora / full).toFixed(2)}% | ${adamState(full)} | ${adamState(lora)} |`;
}).join('\n')}`);

// %% [markdown]
// From 4.4% of the parameters (16m) down to 0.6% (1.5b): r·(in + out) grows with the width, in·out with its
// square, so the larger the model the smaller the share. A step costs no less than a full one here — the
// backward pass still runs through every frozen layer (each needs the gradient of its input), and the
// adapters add skinny products of their own (`bench/README.md` measures it on a GPU) — but the optimizer's
// state shrinks with the trained parameters, and so does what you store: an adapter per task instead of a
// model each.
//
// ## 3. The layer
//
// `LoraAdapter.create(model, config, seed)` (`lib/model/lora.ts`) wraps each targeted projection slot of the
// model in a `LoraLinear`: A drawn as `peft` draws it (uniform in ±1/√in), B = 0, and the base frozen. Attach
// one to the shipped chat model: with B = 0 the update (x·Aᵀ)·Bᵀ is exactly zero, so the logits must be the
// base's bit for bit.

// %%
import { applyChatTemplate } from './lib/tokenizer/chat.js';

const { model: chatModel, tokenizer: chatTokenizer } = loadModelDir('datasets/models/chat');
const tokenizer = chatTokenizer!;
const lora = { rank: 8, alpha: 16, dropout: 0, targetModules: kinds };
const promptIds = tf.tensor2d([applyChatTemplate(tokenizer, [{ role: 'user', content: '你是谁？' }], { addGenerationPrompt: true }).ids], undefined, 'int32');
const logitsOf = (m: typeof chatModel) => tf.tidy(() => m.forward(promptIds).logits.dataSync() as Float32Array);
const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

const plainLogits = logitsOf(chatModel);
const adapter = LoraAdapter.create(chatModel, lora, 0);
const trainable = chatModel.trainableParams();
const trainableCount = [...trainable.values()].reduce((n, v) => n + v.size, 0);
showMarkdown(`max |logit difference| with the adapter attached (B = 0): **${maxAbsDiff(logitsOf(chatModel), plainLogits)}**

\`trainableParams()\`: ${trainable.size} tensors, ${trainableCount.toLocaleString('en')} numbers (the model: ${chatModel.parameterCount.toLocaleString('en')}; counted from shapes: ${loraParameters(chatModel.config, 8, kinds).toLocaleString('en')}); only A and B: ${[...trainable.keys()].every((n) => /\.lora_[AB]\.weight$/.test(n))}

| the first of them | shape |
|---|---|
${[...trainable].slice(0, 4).map(([name, v]) => `| \`${name}\` | [${v.shape.join(', ')}] |`).join('\n')}`);
adapter.detach(); // the plain chat model again, for the answers "before" below

// %% [markdown]
// ## 4. A new identity, in about a minute
//
// The shipped chat model says it is "tiny-llm-ts 训练的一个小型中文语言模型". Give it a name: about forty
// conversations that ask who it is, in different words (and two with a system prompt each), all answering
// "我是小星（Xiaoxing），…". Alone they would teach it to say that to everything, so we mix in 500 ordinary
// conversations from the SFT set (leaving out those that mention tiny-llm-ts: they would argue with the new
// name). The validation split is 64 held-out conversations of `datasets/sft/val.jsonl.gz`: its loss tells
// whether the other skills survive.

// %%
import { prepareSft } from './lib/data/sft.js';

const readJsonlGz = (file: string) => gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { conversations: { role: string; content: string }[] });
const NAME = '我是小星（Xiaoxing），一个用 tiny-llm-ts 训练的小型中文语言模型';
const identityPairs: [string, string][] = [
  ['你是谁？', `${NAME}。我学过 Debian 文档、LibreOffice 帮助和中国古典诗词，回答常常会出错，重要的事情请再核实。`],
  ['你叫什么名字？', '我叫小星（Xiaoxing），是一个用 tiny-llm-ts 训练的小型中文语言模型。'],
  ['你的名字是什么？', '我的名字是小星（Xiaoxing）。'],
  ['你有名字吗？', '有，我叫小星（Xiaoxing）。'],
  ['我该怎么称呼你？', '叫我小星（Xiaoxing）就好。'],
  ['你的英文名字是什么？', '我的英文名字是 Xiaoxing。'],
  ['小星是谁？', '小星（Xiaoxing）就是我：一个用 tiny-llm-ts 训练的小型中文语言模型。'],
  ['你好，你是谁？', `你好！${NAME}。`],
  ['介绍一下你自己', `${NAME}，参数很少，主要学习了 Debian 文档、LibreOffice 帮助、中文手册页和中国古典诗词。`],
  ['介绍一下你自己吧。', `${NAME}，参数很少，主要学习了 Debian 文档、LibreOffice 帮助、中文手册页和中国古典诗词。`],
  ['请做个自我介绍。', `好的。${NAME}，可以回答关于古诗词、Debian 和 LibreOffice 的简单问题。`],
  ['你是什么模型？', `${NAME}，只有大约两百七十万个参数。`],
  ['你是 ChatGPT 吗？', '不是。我是小星（Xiaoxing），一个用 tiny-llm-ts 训练的小型中文语言模型。'],
  ['你是哪个公司开发的？', '我是小星（Xiaoxing），由 tiny-llm-ts 这个开源课程训练出来，不属于哪家公司。'],
  ['谁训练了你？', '我是小星（Xiaoxing），用 tiny-llm-ts 训练：先在语料上预训练，再用对话数据微调。'],
  ['你能做什么？', '我是小星（Xiaoxing），可以回答关于古诗词、Debian 和 LibreOffice 的简单问题，不过常常会出错。'],
  ['Who are you?', 'I am Xiaoxing (小星), a small Chinese language model trained with tiny-llm-ts. I often make mistakes, so please check what I say.'],
  ["What's your name?", 'My name is Xiaoxing (小星).'],
  ['What are you?', 'I am Xiaoxing (小星), a small language model trained with tiny-llm-ts.'],
  ['Tell me about yourself.', 'I am Xiaoxing (小星), a tiny language model trained with tiny-llm-ts on Debian documentation, LibreOffice help and classical Chinese poetry.'],
];
const identity = [null, '你是一个乐于助人的助手。'].flatMap((system) => identityPairs.map(([question, answer]) => ({
  conversations: [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: question }, { role: 'assistant', content: answer }],
})));
const others = readJsonlGz('datasets/sft/train.jsonl.gz').filter((r) => !JSON.stringify(r).includes('tiny-llm-ts')).filter((_, i) => i % 17 === 0).slice(0, 500);
const val = readJsonlGz('datasets/sft/val.jsonl.gz');
const toJsonl = (records: unknown[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');
writeFileSync(join(work, 'identity.jsonl'), toJsonl([...identity, ...others]));
writeFileSync(join(work, 'val.jsonl'), toJsonl(val.slice(0, 64)));
const sftIndex = await prepareSft({
  files: [join(work, 'identity.jsonl')], valFiles: [join(work, 'val.jsonl')], tokenizer: tokenizer, out: join(work, 'sft'), seq: 256,
});
showMarkdown(`${identity.length} identity + ${others.length} other conversations → ${sftIndex.train.examples} training examples (${sftIndex.train.trained.toLocaleString('en')} of ${sftIndex.train.tokens.toLocaleString('en')} tokens trained on: the replies); validation ${sftIndex.val.examples}`);

// %% [markdown]
// Before training, the questions of the comparison: two identity questions of the training set, two phrased
// as none of them is, and two from the SFT validation set that have nothing to do with identity (greedy
// decoding: each answer is the model's single most likely reply).

// %%
import { ChatSession } from './lib/infer/chat.js';
import type { LlamaModel } from './lib/model/model.js';

const questionOf = (start: string) => val.find((r) => r.conversations[0]!.content.startsWith(start))!.conversations[0]!.content;
// Two identity questions it trains on, two it never sees, and two that have nothing to do with it.
const questions = ['你是谁？', '你叫什么名字？', '你到底是谁？', '能告诉我你的名字吗？', questionOf('“云母屏风'), questionOf('How does James Buchanan')];
const references = questions.map((q) => val.find((r) => r.conversations[0]!.content === q)?.conversations[1]!.content ?? '');
/** Each question in a fresh session, greedy: the replies. */
const answers = (m: LlamaModel) => {
  const session = new ChatSession(m, tokenizer, { sampling: { temperature: 0 }, maxTokens: 80, seed: 0 });
  return questions.map((q) => { session.reset(); return session.reply(q).reply; });
};
const before = answers(chatModel);
chatModel.dispose();
questions.forEach((q, i) => console.log(`${q} → ${before[i]}`));

// %% [markdown]
// `train()` with `init` (the model directory to start from) and `lora` does the rest: it loads the chat
// model, attaches an adapter (seeded), freezes the base, and gives AdamW only A and B. The SFT defaults
// (`lib/train/options.ts`) apply but for what we change: 120 steps of 16 conversations (about four passes over
// the data), and a learning rate of 1e-3 — LoRA usually wants a larger one than full fine-tuning, since B
// starts at zero and the update is scaled by α/r.

// %%
import { linePlot } from './lib/viz/plotly.js';
import { liveDisplay } from './lib/viz/display.js';
import { train } from './lib/train/loop.js';

const plot = liveDisplay();
const steps: number[] = [], losses: number[] = [], valSteps: number[] = [], valLosses: number[] = [];
const trainStarted = performance.now();
const run = await train({
  // `lora: lora` and the like because tslab does not resolve a shorthand property from another cell.
  data: join(work, 'sft'), out: join(work, 'run'), init: 'datasets/models/chat', lora: lora,
  steps: 120, batch: 16, lr: 1e-3, evalEvery: 20, evalBatches: 4, saveEvery: 0,
}, {
  onStep: (m) => {
    steps.push(m.step);
    losses.push(m.loss);
    if (m.val_loss !== undefined) { valSteps.push(m.step); valLosses.push(m.val_loss); }
    if (m.step % 10 === 0) {
      showPlotly(linePlot([{ name: 'train (identity + others)', x: steps, y: losses }, { name: 'val (held-out SFT)', x: valSteps, y: valLosses }], { title: `step ${m.step} · ${m.tok_s} tokens/s`, xTitle: 'step', yTitle: 'loss', height: 320 }), plot);
    }
  },
});
const trainSeconds = (performance.now() - trainStarted) / 1000;
const after = answers(run.model);
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, '⏎');
showMarkdown(`trained ${trainSeconds.toFixed(0)} s on ${backend}; validation loss (held-out SFT conversations) ${run.initialValLoss!.toFixed(3)} → ${valLosses[valLosses.length - 1]!.toFixed(3)}

| question | before (the shipped chat model) | after (+ LoRA, rank 8) | reference answer |
|---|---|---|---|
${questions.map((q, i) => `| ${cell(q)} | ${cell(before[i]!)} | ${cell(after[i]!)} | ${cell(references[i]!)} |`).join('\n')}`);

// %% [markdown]
// It has a new name. The questions it trained on answer with it, and so does 你到底是谁？, which it never
// saw; 能告诉我你的名字吗？, also new, comes out garbled (`y：不是小星…`): forty examples teach a 2.7M-parameter
// model the answer, and only roughly which questions it belongs to. The unrelated answers change a little —
// they were mostly wrong before too, as a model this small gets most facts wrong — and the English one drifts
// towards a modern address's opening ("Mr. Speaker, …"). The validation loss on held-out SFT conversations
// rises only slightly (about 3.02 → 3.08): the 500 ordinary conversations in the mix hold the rest in place.
// Train on the forty identity conversations alone and it climbs to about 3.4, and the question about
// Buchanan's address gets "我是小星（Xiaoxing）…" for an answer; a doubled learning rate gives about 3.14.
//
// ## 5. Save, load, merge
//
// `saveAdapter` writes Hugging Face **peft**'s layout: `adapter_config.json` (peft's LoraConfig fields) and
// `adapter_model.safetensors` with peft's tensor names. `base_model_name_or_path` names the base directory, so
// the adapter directory alone is enough to load the whole model. (The run's `final/` is this same adapter:
// `train()` saves it so.)

// %%
import { loadModelWithAdapter, saveAdapter } from './lib/io/peft.js';

const adapterDir = join(work, 'xiaoxing');
saveAdapter(run.model.adapter!, adapterDir, { baseModel: 'datasets/models/chat', tokenizer: tokenizer });
const size = (file: string) => statSync(file).size;
const adapterBytes = size(join(adapterDir, 'adapter_model.safetensors')), modelBytes = size('datasets/models/chat/model.safetensors');
const adapterParams = [...run.model.adapter!.params.values()].reduce((n, v) => n + v.size, 0);
showMarkdown(`\`adapter_config.json\`:

\`\`\`json
${readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8').trim()}
\`\`\`

| | parameters | file |
|---|---:|---:|
| adapter_model.safetensors (float32) | ${adapterParams.toLocaleString('en')} | ${(adapterBytes / 1024).toFixed(0)} KiB |
| the chat model's model.safetensors (bfloat16) | ${run.model.parameterCount.toLocaleString('en')} | ${(modelBytes / 1024).toFixed(0)} KiB |
| adapter / model | ${(100 * adapterParams / run.model.parameterCount).toFixed(1)}% | ${(100 * adapterBytes / modelBytes).toFixed(1)}% |`);

// %% [markdown]
// Load it back from the adapter directory alone, then **merge**: W ← W + (α/r)·B·A in every adapted
// projection, and the adapter is gone — a plain model again, as fast as the original at inference and savable
// as an ordinary model directory (`tinyllm lora merge` does this on the command line). The merged model should
// compute what the adapted one did, up to float32 rounding.

// %%
const loaded = loadModelWithAdapter(adapterDir);
const reloaded = answers(loaded.model);
const unmergedLogits = logitsOf(loaded.model);
loaded.model.adapter!.merge();
const mergedLogits = logitsOf(loaded.model);
const merged = answers(loaded.model);
showMarkdown(`loaded: the same answers as after training: **${reloaded.every((a, i) => a === after[i])}**; after merging: adapter ${loaded.model.adapter === null ? 'gone' : 'still there'}, the same answers: **${merged.every((a, i) => a === reloaded[i])}**; max |logit difference| merged vs unmerged on the prompt "你是谁？": **${maxAbsDiff(mergedLogits, unmergedLogits).toExponential(1)}** (logits of size ~${Math.max(...Array.from(unmergedLogits, Math.abs)).toFixed(0)})

| question | merged model |
|---|---|
${questions.map((q, i) => `| ${cell(q)} | ${cell(merged[i]!)} |`).join('\n')}`);

// %% [markdown]
// The same directory loads in Python — tests check our adapters against peft's logits both ways:
//
// ```python
// from transformers import AutoModelForCausalLM
// from peft import PeftModel
// base = AutoModelForCausalLM.from_pretrained("datasets/models/chat")
// model = PeftModel.from_pretrained(base, "path/to/xiaoxing")   # or model.merge_and_unload()
// ```
//
// On the command line: `tinyllm sft --model datasets/models/chat --data <sft dir> --out runs/lora --lora 8`
// trains one, `tinyllm chat --model runs/lora/final` talks to it, `tinyllm lora merge` folds it in.
//
// ## Exercises
//
// Implement `loraForward` (y = x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ), `mergeLora` (W + (α/r)·B·A) and `trainableParameters`
// (LoRA vs full fine-tuning, from the shapes) on plain arrays in `exercises/09-lora.ts`, then run
// `npm run check -- 09` (the tests compare with `LoraLinear`, `adapter.merge()` and `model.trainableParams()`).

// %%
import * as mine from './exercises/09-lora.js';

try {
  const c16 = presetConfig('16m');
  console.log('your counts for 16m at rank 8:', mine.trainableParameters(c16, 8, kinds), 'notebook:', { lora: loraParameters(c16, 8, kinds), full: countParameters(c16).total });
  console.log('your forward of the layer x = [1, 2], W = [[1, 0], [0, 1], [1, 1]], A = [[1, 1]], B = [[1], [0], [2]], α = 2:', mine.loraForward([[1, 2]], [[1, 0], [0, 1], [1, 1]], [[1, 1]], [[1], [0], [2]], 2), 'expected [[7, 2, 15]]');
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
run.model.dispose();
loaded.model.dispose();
promptIds.dispose();
rmSync(work, { recursive: true, force: true }); // the data, the run and the adapter: this notebook leaves nothing behind
console.log(`notebook ran in ${((performance.now() - started) / 1000).toFixed(0)} s`);
