// %% [markdown]
// # 08 · Supervised fine-tuning: from a text model to a chat model
//
// Pretraining (notebook 07) makes a **base model**: it continues text in the styles of its corpus. Ask it a
// question and it does what it learned — it continues the question, with more text of the kind it has read.
// It has never seen a conversation, so it does not know that a question wants an answer, and nothing has
// told it where an answer ends.
//
// **Supervised fine-tuning** (SFT) keeps the next-token loss and changes the data: conversations, rendered
// with a *chat template* so that who speaks and where each message ends are tokens the model can read and
// write, and a *loss mask* so that the model learns only the assistant's part — each reply and the token
// that ends it, `<|im_end|>`. A chat model is a base model that has learned to answer, and to **stop**.
//
// We start from `datasets/models/base` (the `16m` preset, 2.7M parameters, pretrained on the shipped corpus
// on a GPU by the commands in `datasets/README.md`) and fine-tune it on a slice of `datasets/sft`:
//
// 1. **The chat template and the loss mask**, token by token.
// 2. **Four dataset formats**, one list of messages.
// 3. **SFT data on disk** and right-padded batches.
// 4. **The masked loss**, by hand and from the model.
// 5. **Before**: the base model asked a few questions.
// 6. **SFT** with a live loss plot, then **after**: the same questions.

// %%
import * as tf from '@tensorflow/tfjs';
import * as tslab from 'tslab';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { initBackend } from './lib/backend/init.js';
import { readConversation } from './lib/data/conversations.js';
import { loadModelDir } from './lib/io/model-dir.js';
import type { LlamaModel } from './lib/model/model.js';
import { applyChatTemplate, renderChat, type ChatMessage } from './lib/tokenizer/chat.js';
import { IM_END, IM_START } from './lib/tokenizer/special.js';
import { showMarkdown, showPlotly } from './lib/viz/display.js';

const backend = await initBackend('auto');
const started = performance.now();
const work = mkdtempSync(join(tmpdir(), 'sft-'));
const baseDir = loadModelDir('datasets/models/base');
const base = baseDir.model;
const tokenizer = baseDir.tokenizer!; // a model directory carries its tokenizer and chat template
const imEnd = tokenizer.specialId(IM_END);

/** The records of a gzipped JSONL file. */
const readJsonlGz = (file: string): unknown[] => gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
const trainRecords = readJsonlGz('datasets/sft/train.jsonl.gz');
const valRecords = readJsonlGz('datasets/sft/val.jsonl.gz');
console.log(`base model: ${base.config.layers} layers, hidden ${base.config.hidden}, ${base.config.vocabSize} tokens; datasets/sft: ${trainRecords.length} + ${valRecords.length} conversations`);

// %% [markdown]
// ## 1. The chat template and the loss mask
//
// Our template is ChatML, as minimind and Qwen use it: every message becomes
// `<|im_start|>{role}\n{content}<|im_end|>\n`, and to ask for a reply the prompt ends with
// `<|im_start|>assistant\n`. `<|im_start|>` and `<|im_end|>` are special tokens (ids 1 and 2): no text
// encodes to them, so a user cannot fake a role or end a message by typing them.
//
// `applyChatTemplate` returns the ids and, per id, the **loss mask**: 1 on each assistant reply and its
// `<|im_end|>`, 0 on everything else — the system prompt, the user's messages, the role headers, and the
// newline after `<|im_end|>` (generation stops at `<|im_end|>`, so the model never has to write it). Here is
// a conversation of the training data with a system prompt and two exchanges, token by token (a box is one
// token, or the byte tokens of one rare character).

// %%
const example = trainRecords.map(readConversation).find((c) => c[0]!.role === 'system' && c.length === 5)!;
const encoded = applyChatTemplate(tokenizer, example);
const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Ids grouped into whole characters (a rare character is several byte tokens), each group with its mask. */
function pieces(ids: number[], mask: number[]): { text: string; trained: boolean }[] {
  const out: { text: string; trained: boolean }[] = [];
  let pending: number[] = [];
  ids.forEach((id, i) => {
    pending.push(id);
    const text = tokenizer.decode(pending);
    if (text.endsWith('\ufffd') && i < ids.length - 1) return;
    out.push({ text, trained: mask[i] === 1 });
    pending = [];
  });
  return out;
}

const strip = pieces(encoded.ids, encoded.assistantMask).map(({ text, trained }) => {
  const special = text === IM_START || text === IM_END;
  const shown = escapeHtml(text).replace(/\n/g, '⏎').replace(/ /g, '&nbsp;');
  const box = `<span style="display:inline-block;margin:1px;padding:0 3px;border-radius:3px;background:${trained ? '#b7ebb1' : '#e6e6e6'}${special ? ';font-weight:bold' : ''}">${shown}</span>`;
  return text.endsWith('\n') ? `${box}<br>` : box;
}).join('');
const trainedCount = encoded.assistantMask.reduce((a, b) => a + b, 0);
tslab.display.html(`<div style="line-height:1.9">${strip}</div>
<p><span style="background:#b7ebb1;padding:0 4px">green</span>: trained on (${trainedCount} of ${encoded.ids.length} tokens) ·
<span style="background:#e6e6e6;padding:0 4px">grey</span>: context only · ⏎: a newline</p>`);
console.log('rendered:', JSON.stringify(renderChat(example)));

// %% [markdown]
// The rendered text is exactly what `transformers`' `apply_chat_template` makes of the same messages (the
// template is in the model directory's `tokenizer_config.json` too, in Jinja). `applyChatTemplate` also
// returns `messageEnds`, where each message's tokens end: a conversation longer than the training window
// keeps its longest prefix that ends with an assistant message — whole turns dropped from the end, never half
// a reply (`fitConversation`).
//
// Why the mask? Without it the model would also learn to write the users' questions and the system prompts,
// spending its small capacity on text it will only ever read. With it, every gradient comes from the
// answers — and from `<|im_end|>`, which the pretraining corpus never contains (its documents are separated
// by `<|endoftext|>`). So the base model gives `<|im_end|>` almost no probability, even where an answer is
// plainly over. Here is what it gives the trained tokens of the conversation above:

// %%
/** p(token) of every trained token of a conversation (the ids with mask 1, each predicted from those before it). */
function trainedTokenProbs(model: LlamaModel, messages: ChatMessage[]): { id: number; p: number }[] {
  const { ids, assistantMask } = applyChatTemplate(tokenizer, messages);
  const lp = tf.tidy(() => model.tokenLogProbs(tf.tensor2d([ids.slice(0, -1)], undefined, 'int32'), tf.tensor2d([ids.slice(1)], undefined, 'int32')).dataSync());
  return ids.slice(1).map((id, t) => ({ id, p: Math.exp(lp[t]!) })).filter((_, t) => assistantMask[t + 1] === 1);
}
/** Mean p of the trained tokens, and p(<|im_end|>) where each reply ends. */
const replyProbs = (model: LlamaModel) => {
  const probs = trainedTokenProbs(model, example);
  return { mean: probs.reduce((s, x) => s + x.p, 0) / probs.length, stop: probs.filter((x) => x.id === imEnd).map((x) => x.p) };
};
const probsBefore = replyProbs(base);
showMarkdown(`| model | mean p of the ${trainedCount} trained tokens | p(\`<|im_end|>\`) where each reply ends |
|---|---:|---|
| base | ${probsBefore.mean.toFixed(3)} | ${probsBefore.stop.map((p) => p.toExponential(1)).join(', ')} |`);

// %% [markdown]
// ## 2. Four dataset formats, one list of messages
//
// SFT datasets come in a few shapes. `readConversation` (`lib/data/conversations.ts`) reads the four that
// minimind, tiny-llm-zh and their sources use into the same list of `{role, content}` messages; everything
// after it — template, mask, batches — never needs to know where a conversation came from. A record that is
// not a trainable conversation (an unknown role, a system message in the middle, no assistant reply at the
// end) is rejected with the field that is wrong, which `tinyllm data prepare` reports as `file:line`.

// %%
const systemPrompt = '请用简洁的中文回答。', question = 'ls 命令是做什么的？', answer = 'ls 用于列出目录内容。';
const formats: [string, unknown][] = [
  ['minimind', { conversations: [{ role: 'system', content: systemPrompt }, { role: 'user', content: question }, { role: 'assistant', content: answer }] }],
  ['ShareGPT', { conversations: [{ from: 'system', value: systemPrompt }, { from: 'human', value: question }, { from: 'gpt', value: answer }] }],
  ['tiny-llm-zh', { system: systemPrompt, question: question, answer: answer }],
  ['Alpaca', { system: systemPrompt, instruction: question, input: '', output: answer }],
  ['Alpaca, with an input', { instruction: '这个命令是做什么的？', input: 'ls -l', output: '以长格式列出目录内容。' }],
  ['(not a conversation)', { conversations: [{ role: 'user', content: question }] }],
];
const messagesOf = (record: unknown) => {
  try {
    return readConversation(record).map((m) => `**${m.role}**: ${m.content.replace(/\n/g, '⏎')}`).join('<br>');
  } catch (e) {
    return `error: *${(e as Error).message}*`;
  }
};
showMarkdown(`| format | record | messages |
|---|---|---|
${formats.map(([name, record]) => `| ${name} | \`${JSON.stringify(record)}\` | ${messagesOf(record)} |`).join('\n')}`);

// %% [markdown]
// (Alpaca's optional `input` goes on the line after the instruction.) `datasets/sft` is in the minimind
// format; its README tells how it was built from the corpus's own sources, so that its answers hold facts the
// base model has read.
//
// ## 3. SFT data on disk, and padded batches
//
// `prepareSft` (behind `tinyllm data prepare --format sft`) reads the records, renders each conversation with
// the template, fits it into `seq + 1` tokens, and writes three flat files per split: the ids, the mask (a
// byte per id) and where each example starts. Here a slice of `datasets/sft` — its first 3,000 training
// conversations and 200 of its validation split — with `seq` 256, which keeps almost every conversation whole.

// %%
import { prepareSft, SftDataset, SftLoader } from './lib/data/sft.js';

const TRAIN_CONVERSATIONS = 3000, VAL_CONVERSATIONS = 200, SEQ = 256;
const toJsonl = (records: unknown[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');
writeFileSync(join(work, 'train.jsonl'), toJsonl(trainRecords.slice(0, TRAIN_CONVERSATIONS)));
writeFileSync(join(work, 'val.jsonl'), toJsonl(valRecords.slice(0, VAL_CONVERSATIONS)));
const sftDir = join(work, 'sft');
const sftIndex = await prepareSft({
  files: [join(work, 'train.jsonl')], valFiles: [join(work, 'val.jsonl')], tokenizer: tokenizer, out: sftDir, seq: SEQ,
});
const report = sftIndex.report;
showMarkdown(`| split | examples | tokens | trained tokens |
|---|---:|---:|---:|
${(['train', 'val'] as const).map((s) => `| ${s} | ${sftIndex[s].examples} | ${sftIndex[s].tokens.toLocaleString('en')} | ${sftIndex[s].trained.toLocaleString('en')} (${((100 * sftIndex[s].trained) / sftIndex[s].tokens).toFixed(0)}%) |`).join('\n')}

${TRAIN_CONVERSATIONS + VAL_CONVERSATIONS} conversations: ${report.kept} kept (${report.cut} of them cut at a turn to fit ${SEQ} tokens), ${report.tooLong} too long, ${report.malformed} malformed; ${sftIndex.dtype} ids; padding id ${sftIndex.pad} (\`<|endoftext|>\`)`);

// %% [markdown]
// Conversations differ in length, and a batch is a rectangle. `SftLoader` pads each batch **on the right** to
// its longest example (rounded up to a multiple of 32, so that few distinct shapes reach the kernels). As in
// pretraining, an example's inputs are its ids 0…n−2 and its targets ids 1…n−1; each target's **weight** is the
// mask of the token it predicts, and 0 on the padding. Causal attention means real tokens never look at the
// padding after them, so padding changes nothing but the cost — and to waste less of it, the loader sorts runs
// of examples by length before cutting them into batches (then shuffles the batches). One batch of 8:

// %%
import { batchTensors } from './lib/train/step.js';

const trainSet = new SftDataset(sftDir, 'train');
const B = 8;
const batch = new SftLoader(trainSet, B, SEQ, 0).next();
const T = batch.inputs.length / B;
// Each row an example: runs of trained targets (green), context (grey) and padding (white).
const kindAt = (i: number) => (batch.weights![i]! > 0 ? 'trained' : batch.inputs[i] === sftIndex.pad ? 'padding' : 'context');
const colours: Record<string, string> = { trained: '#7ccf72', context: '#c4c4c4', padding: '#ffffff' };
const batchRows = Array.from({ length: B }, (_, b) => {
  let html = '', run = 0;
  for (let t = 0; t < T; t++) {
    run++;
    const kind = kindAt(b * T + t);
    if (t === T - 1 || kindAt(b * T + t + 1) !== kind) {
      html += `<span style="display:inline-block;height:12px;width:${3 * run}px;background:${colours[kind]}"></span>`;
      run = 0;
    }
  }
  return `<div style="border:1px solid #999;width:${3 * T}px;line-height:0;margin:2px 0">${html}</div>`;
}).join('');
const kinds = Array.from({ length: B * T }, (_, i) => kindAt(i));
const countKind = (kind: string) => kinds.filter((k) => k === kind).length;
tslab.display.html(`${batchRows}<p>[${B}, ${T}]: ${countKind('trained')} trained targets (green), ${countKind('context')} context (grey), ${countKind('padding')} padding (white) — ${((100 * (B * T - countKind('padding'))) / (B * T)).toFixed(0)}% real tokens</p>`);

// %% [markdown]
// ## 4. The masked loss
//
// The loss of a batch is the mean cross-entropy over its trained targets only: Σ w·(−log p(target)) / Σ w.
// `model.tokenLogProbs(inputs, targets)` gives log p(target) at every position, [B, T]; the weights do the
// rest. `model.loss(inputs, targets, weights)` — what training minimises — must give the same number.

// %%
const tensors = batchTensors(batch, B);
const [lossByHand, lossReal, lossAll] = tf.tidy(() => {
  const nll = tf.neg(base.tokenLogProbs(tensors.inputs, tensors.targets)); // [B, T]
  const w = tensors.weights!; // [B, T]
  const real = tf.cast(tf.notEqual(tensors.inputs, sftIndex.pad), 'float32'); // [B, T]: 1 except on padding
  const weighted = (weights: tf.Tensor) => tf.div(tf.sum(tf.mul(nll, weights)), tf.sum(weights)).dataSync()[0]!;
  return [weighted(w), weighted(real), tf.mean(nll).dataSync()[0]!];
});
const lossLibrary = tf.tidy(() => base.loss(tensors.inputs, tensors.targets, tensors.weights).dataSync()[0]!);
showMarkdown(`| mean of −log p(target) over | loss |
|---|---:|
| the trained targets, by hand from \`tokenLogProbs\` | ${lossByHand.toFixed(5)} |
| the trained targets: \`model.loss(inputs, targets, weights)\` | ${lossLibrary.toFixed(5)} |
| every real token (prompts too) | ${lossReal.toFixed(5)} |
| every position (padding too) | ${lossAll.toFixed(5)} |`);
tf.dispose([tensors.inputs, tensors.targets, tensors.weights!]);

// %% [markdown]
// The first two agree to rounding. The last two are what the loss would be without the mask; the very last
// also averages in positions that predict padding after padding, which mean nothing at all.
//
// ## 5. Before: the base model, asked
//
// Six questions of the SFT data: an identity question (those conversations are all in the training split),
// and five of the **validation** split — a poem, a saying, a man page, a LibreOffice help page, an English
// question — which training never shows the model. `ChatSession` (behind `tinyllm chat`) renders each with the
// template plus the generation prompt `<|im_start|>assistant\n` and decodes greedily (temperature 0: the most
// likely token every time) until `<|im_end|>`, or 80 tokens.

// %%
import { ChatSession, type ChatReply } from './lib/infer/chat.js';

const allConversations = [...valRecords, ...trainRecords].map(readConversation); // a question is looked up in val first
const firstQuestion = (c: ChatMessage[]) => c.find((m) => m.role === 'user')!.content;
const picked = ['你是谁？', '《秋兴八首·其一》', '“但使龙城飞将在', 'pg_ctl', '在 LibreOffice 里，“全选”', 'Who gave the State of the Union in 2017']
  .map((start) => allConversations.find((c) => firstQuestion(c).startsWith(start))!);
const questions = picked.map(firstQuestion);
const references = picked.map((c) => c[c.findIndex((m) => m.role === 'user') + 1]!.content);
const MAX_TOKENS = 80;

/** Each question in a fresh session, greedy. */
const ask = (model: LlamaModel): ChatReply[] => {
  const session = new ChatSession(model, tokenizer, { sampling: { temperature: 0 }, maxTokens: MAX_TOKENS, seed: 0 });
  return questions.map((q) => {
    session.reset();
    return session.reply(q);
  });
};
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, '⏎');
const endedBy = (r: ChatReply) => (r.finishReason === 'stop' ? '`<|im_end|>`' : `the limit (${r.tokens} tokens)`);
const before = ask(base);
showMarkdown(`| question | the base model's reply | ended by |
|---|---|---|
${questions.map((q, i) => `| ${cell(q)} | ${cell(before[i]!.reply)} | ${endedBy(before[i]!)} |`).join('\n')}`);

// %% [markdown]
// The base model does not answer. It continues, in the voice of whatever its corpus put after text like this —
// man-page options and file paths, lists of titles, the English of the novel or the addresses — often going
// round in a loop, until the token limit cuts it off: it has never written `<|im_end|>`.
//
// ## 6. Supervised fine-tuning
//
// `train()` is notebook 07's loop. Given an SFT data directory and `init`, the model directory to start from,
// it loads the base model's weights and draws its batches from `SftLoader`; the loss is the masked one, and so
// is the validation loss (on the held-out conversations' assistant tokens). The SFT defaults (`SFT_DEFAULTS` in
// `lib/train/options.ts`: batch 16, AdamW, clipping at 1, warmup then a cosine) apply but for what we change:
// 200 steps of 16 conversations — about one pass through the slice — at a learning rate of 1e-3, high for
// fine-tuning but right for a run this short, and validation every 20 steps on 6 batches. About a minute on two
// CPU cores.

// %%
import { train } from './lib/train/loop.js';
import { linePlot } from './lib/viz/plotly.js';
import { liveDisplay } from './lib/viz/display.js';

const plot = liveDisplay();
const steps: number[] = [], losses: number[] = [], valSteps: number[] = [], valLosses: number[] = [];
const lossPlot = (title: string) => linePlot([
  { name: 'train (each batch)', x: steps, y: losses },
  { name: 'val (held-out conversations)', x: valSteps, y: valLosses },
], { title: title, xTitle: 'step', yTitle: 'loss on assistant tokens', height: 320 });
const trainStarted = performance.now();
const run = await train({
  data: sftDir, out: join(work, 'run'), init: 'datasets/models/base',
  steps: 200, lr: 1e-3, evalEvery: 20, evalBatches: 6, saveEvery: 0,
}, {
  onStep: (m) => {
    steps.push(m.step);
    losses.push(m.loss);
    if (m.val_loss !== undefined) { valSteps.push(m.step); valLosses.push(m.val_loss); }
    if (m.step % 10 === 0) showPlotly(lossPlot(`step ${m.step} · ${m.tok_s} tokens/s`), plot);
  },
});
const trainSeconds = (performance.now() - trainStarted) / 1000;
valSteps.unshift(0);
valLosses.unshift(run.initialValLoss!);
showPlotly(lossPlot(`${steps.length} steps in ${trainSeconds.toFixed(0)} s on ${backend}`), plot);

// %% [markdown]
// The validation loss drops steeply in the first few dozen steps — the model learns the shape of a reply and
// where it ends, which every conversation repeats — then flattens: the facts are the slow part. The training
// loss jumps from batch to batch, since each batch is a different mix of kinds of question and lengths.
//
// ## After: the same questions

// %%
const after = ask(run.model);
const probsAfter = replyProbs(run.model);
const stopped = (replies: ChatReply[]) => replies.filter((r) => r.finishReason === 'stop').length;
showMarkdown(`validation loss (assistant tokens of ${sftIndex.val.examples} held-out conversations): ${run.initialValLoss!.toFixed(3)} → ${valLosses[valLosses.length - 1]!.toFixed(3)}

| question | before SFT | after SFT | the data's answer |
|---|---|---|---|
${questions.map((q, i) => `| ${cell(q)} | ${cell(before[i]!.reply)} | ${cell(after[i]!.reply)} | ${cell(references[i]!)} |`).join('\n')}

| | replies that end with \`<|im_end|>\` | mean p of the section-1 conversation's trained tokens | p(\`<|im_end|>\`) where its replies end |
|---|---:|---:|---|
| before SFT | ${stopped(before)} of ${questions.length} | ${probsBefore.mean.toFixed(3)} | ${probsBefore.stop.map((p) => p.toExponential(1)).join(', ')} |
| after SFT | ${stopped(after)} of ${questions.length} | ${probsAfter.mean.toFixed(3)} | ${probsAfter.stop.map((p) => p.toFixed(3)).join(', ')} |`);

// %% [markdown]
// What to look for: after SFT the model **answers** — in the shapes of the data's answers (“这句话出自……”,
// “…… 用于……”, “… delivered the … State of the Union address.”) — and it **stops**: `<|im_end|>`, which the
// base model all but ruled out, now comes where a reply is complete. What it says is another matter. The
// validation questions are new to it, and 2.7M parameters hold few facts, so it names plausible poets, works and
// years — often the wrong ones. SFT teaches a format and a behaviour; the knowledge has to be in the base model
// already, and a longer run or a bigger model is what makes the answers right more often.
//
// ## The full run
//
// The same steps on the command line, on all of `datasets/sft` — this is how the shipped chat model
// `datasets/models/chat` was made (on a GPU; `datasets/README.md` has the exact commands, ~15 minutes on two
// CPU cores instead):
//
// ```bash
// npx tinyllm data prepare --format sft --tokenizer datasets/tokenizer --input datasets/sft/train.jsonl.gz \
//   --val datasets/sft/val.jsonl.gz --out data/sft --seq 512
// npx tinyllm sft --model datasets/models/base --data data/sft --out runs/sft --steps 900 --batch 32 --lr 5e-4
// npx tinyllm chat --model runs/sft/final          # talk to it: /reset, /system <text>, /exit
// ```
//
// Here is how the shipped chat model answers the same questions:

// %%
const chatModel = loadModelDir('datasets/models/chat').model;
const shipped = ask(chatModel);
showMarkdown(`| question | after our short SFT | \`datasets/models/chat\` |
|---|---|---|
${questions.map((q, i) => `| ${cell(q)} | ${cell(after[i]!.reply)} | ${cell(shipped[i]!.reply)} |`).join('\n')}

replies that end with \`<|im_end|>\`: ${stopped(shipped)} of ${questions.length}`);
chatModel.dispose();

// %% [markdown]
// Four and a half times the steps, twice the batch, all the data: look for more of the data's exact phrasing
// and more facts right (its identity, some sources and authors) — and still plenty wrong, at 2.7M parameters.
// Greedy decoding can also fall into a loop that only the token limit ends, in a long answer more than a short
// one.
//
// ## Exercises
//
// In `exercises/08-sft.ts`, implement on plain arrays `chatTemplate` (the ChatML ids and the loss mask),
// `maskedMeanLoss` (Σ w·(−log p) / Σ w) and `padBatch` (right-padded inputs, targets and weights), then run
// `npm run check -- 08`: the tests compare them with `applyChatTemplate` on every validation conversation, with
// `model.loss`, and with `SftLoader`'s batches.

// %%
import * as mine from './exercises/08-sft.js';

try {
  const yours = mine.chatTemplate(example, { imStart: tokenizer.specialId(IM_START), imEnd: imEnd }, (text) => tokenizer.encode(text, { specials: 'plain' }));
  const same = JSON.stringify(yours) === JSON.stringify({ ids: encoded.ids, mask: encoded.assistantMask });
  console.log(`your chatTemplate on the section-1 conversation: ${yours.ids.length} ids, ${yours.mask.filter((m) => m === 1).length} trained; the same as applyChatTemplate: ${same}`);
  console.log('your maskedMeanLoss of log p = [[ln 0.5, ln 0.25, ln 0.1]], w = [[1, 1, 0]]:', mine.maskedMeanLoss([[Math.log(0.5), Math.log(0.25), Math.log(0.1)]], [[1, 1, 0]]), 'expected', 1.5 * Math.log(2));
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
trainSet.close();
base.dispose();
run.model.dispose();
rmSync(work, { recursive: true, force: true }); // the data and the run: this notebook leaves nothing behind
console.log(`notebook ran in ${((performance.now() - started) / 1000).toFixed(0)} s`);
