// %% [markdown]
// # 11 · Evaluation: numbers that say how far from chance they are
//
// Notebooks 07–10 watched a loss go down. A loss is the model's own yardstick; to compare models — a base
// model with its SFT and DPO versions, ours with someone else's — we need measurements that mean the same
// thing for each, and we need to know when a difference between two numbers is only noise. `lib/eval/` and
// `tinyllm eval` measure three things:
//
// 1. **Perplexity and bits per byte** of held-out text: how surprised the model is. Perplexity per token
//    depends on the tokenizer; bits per byte does not — shown with two tokenizers and the simplest model.
//    Then the shipped model on `datasets/eval/ppl`, and what the sliding window does to a long document.
// 2. **Multiple choice** as C-Eval and CMMLU ask it (`datasets/eval/mcq`, 1,647 questions in six subjects):
//    **letter scoring** (which of A, B, C, D comes next) against **option scoring** (which option's text is
//    likeliest), and why a small model sits at chance with the first and not with the second.
// 3. **How sure an accuracy is**: the Wilson interval, and how many questions it takes to tell 30% from 25%.
//
// Then a table of the three shipped models — base (pretrained), chat (SFT of base), dpo (DPO of chat) —
// with multiple choice, perplexity and greedy answers to held-out questions, and how to run the real C-Eval
// and CMMLU.

// %%
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { initBackend } from './lib/backend/init.js';
import { loadModelDir } from './lib/io/model-dir.js';
import type { LlamaModel } from './lib/model/model.js';
import type { Tokenizer } from './lib/tokenizer/tokenizer.js';
import { linePlot, plotlyFigure } from './lib/viz/plotly.js';
import { showMarkdown, showPlotly } from './lib/viz/display.js';

const backend = await initBackend('auto');
const started = performance.now();
const MODELS = ['base', 'chat', 'dpo'] as const;
type ModelName = (typeof MODELS)[number];
const models = {} as Record<ModelName, LlamaModel>;
for (const name of MODELS) models[name] = loadModelDir(`datasets/models/${name}`).model;
const tokenizer: Tokenizer = loadModelDir('datasets/models/base').tokenizer!; // all three share datasets/tokenizer
/** The texts of a gzipped JSONL file of {"text"}. */
const readTexts = (file: string): string[] => gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { text: string }).text);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
console.log(`backend ${backend}; models ${MODELS.join(', ')}: ${models.base.config.layers} layers, hidden ${models.base.config.hidden}, context ${models.base.config.maxSeq}, vocabulary ${tokenizer.vocabSize}`);

// %% [markdown]
// ## 1. Perplexity and bits per byte
//
// A language model gives every token of a text a probability given the tokens before it. Over a held-out
// text of N tokens and B bytes:
//
// - the **loss** is the mean surprise per token, −(1/N)·Σ log p(tokenₜ | tokens<ₜ), in nats;
// - the **perplexity** is exp(loss): the number of equally likely tokens the model is, on average, choosing
//   among (a model guessing uniformly among V tokens has perplexity V);
// - **bits per byte** is the same total surprise in bits, divided by the text's UTF-8 bytes:
//   Σ −log₂ p / B = (loss / ln 2) / (B / N) — bits per token over bytes per token.
//
// The perplexity depends on what a token is. A tokenizer with longer tokens makes fewer predictions, each
// harder: its perplexity per token is higher for the same understanding of the text. Bits per byte charges
// the total surprise to the text itself, which every tokenizer encodes to the same bytes — it is how models
// with different tokenizers are compared (and what a compressor built on the model would achieve).
//
// The cheapest honest demonstration: a **unigram model**, which predicts each token from its frequency in
// training text and ignores the context. We train one on ~1.5 MB of the corpus (without the held-out
// documents) under three tokenizers — the shipped one (6,400 tokens), one of 512 tokens trained right here,
// and plain bytes (259: the 256 bytes and three special tokens, no merges) — and measure it on the held-out
// texts of `datasets/eval/ppl`.

// %%
import { readDocuments } from './lib/data/documents.js';
import { minVocabSize, PieceCounts, trainTokenizer } from './lib/tokenizer/train.js';

const PPL_FILES = ['zh-modern', 'zh-classical', 'en'] as const;
const heldOut = PPL_FILES.flatMap((f) => readTexts(`datasets/eval/ppl/${f}.jsonl.gz`));
const heldOutSet = new Set(heldOut);
const TRAIN_BYTES = 500_000; // of each corpus file
const trainTexts: string[] = [];
for (const f of PPL_FILES) {
  let bytes = 0;
  await readDocuments(`datasets/corpus/${f}.jsonl.gz`, (text) => {
    if (bytes >= TRAIN_BYTES || heldOutSet.has(text)) return; // the held-out documents are in the corpus file too
    trainTexts.push(text);
    bytes += Buffer.byteLength(text, 'utf8');
  });
}
let t = performance.now();
const pieces = new PieceCounts();
for (const text of trainTexts) pieces.add(text);
const small = trainTokenizer(pieces, { vocabSize: 512 });
const bytesOnly = trainTokenizer(pieces, { vocabSize: minVocabSize() }); // no merges: one token per byte
console.log(`${trainTexts.length} training documents; a 512-token tokenizer trained in ${seconds(t)}`);

/** A unigram model (token frequencies, add-one smoothed) trained and measured under one tokenizer. */
function unigram(tok: Tokenizer): { vocab: number; tokens: number; bytes: number; nll: number } {
  const counts = new Float64Array(tok.vocabSize);
  let total = 0;
  for (const text of trainTexts) for (const id of tok.encode(text)) { counts[id]! += 1; total++; }
  let nll = 0, tokens = 0, bytes = 0;
  for (const text of heldOut) {
    for (const id of tok.encode(text)) { nll -= Math.log((counts[id]! + 1) / (total + tok.vocabSize)); tokens++; }
    bytes += Buffer.byteLength(text, 'utf8');
  }
  return { vocab: tok.vocabSize, tokens, bytes, nll };
}
t = performance.now();
const unigrams = [['bytes', unigram(bytesOnly)], ['BPE, trained above', unigram(small)], ['BPE, datasets/tokenizer', unigram(tokenizer)]] as const;
showMarkdown(`A unigram model on the ${heldOut.length} held-out documents (${unigrams[0][1].bytes.toLocaleString('en')} bytes), under three tokenizers (${seconds(t)}):

| tokenizer | vocabulary | tokens | bytes per token | loss (nats per token) | **perplexity per token** | bits per token | **bits per byte** |
|---|---:|---:|---:|---:|---:|---:|---:|
${unigrams.map(([name, u]) => `| ${name} | ${u.vocab.toLocaleString('en')} | ${u.tokens.toLocaleString('en')} | ${(u.bytes / u.tokens).toFixed(2)} | ${(u.nll / u.tokens).toFixed(3)} | **${Math.exp(u.nll / u.tokens).toFixed(1)}** | ${(u.nll / u.tokens / Math.LN2).toFixed(2)} | **${(u.nll / Math.LN2 / u.bytes).toFixed(3)}** |`).join('\n')}`);

// %% [markdown]
// By perplexity, the byte-level unigram model looks by far the best and the one on the shipped tokenizer
// the worst — but that is only the tokens getting longer: a byte has a few dozen common values, a token of
// the shipped vocabulary thousands. Bits per byte says the opposite, and it is right: predicting whole
// characters and words from their frequencies is a better model of the text than predicting bytes from
// theirs (a frequent word is one cheap prediction rather than several). Perplexities under different
// tokenizers cannot be compared; bits per byte can. (Both columns compare models *with the same tokenizer*
// equally well: for a fixed text, bits per byte is the loss times a constant.)
//
// ### The shipped models on held-out text
//
// `readPplDocuments` reads a text file, JSONL of `{"text"}` or prepared shards; each document becomes
// `<|endoftext|>` (a document start, as in pretraining) and its ids, every id after the first predicted.
// `evaluatePerplexity` adds up −log p over the documents and reports the totals. `datasets/eval/ppl` holds
// the documents that went to the validation split when the base model's shards were made — texts it never
// trained on. We take the first documents of each file (`PPL_DOCS`), enough for two or three significant
// digits, for the base model here and for all three models in the table at the end.

// %%
import { evaluatePerplexity, pplDocument, type PplDocument, type PplResult } from './lib/eval/perplexity.js';
import { readPplDocuments } from './lib/eval/texts.js';

const PPL_DOCS: Record<(typeof PPL_FILES)[number], number> = { 'zh-modern': 6, 'zh-classical': 60, en: 1 };
const pplDocs = {} as Record<(typeof PPL_FILES)[number], PplDocument[]>;
for (const f of PPL_FILES) pplDocs[f] = (await readPplDocuments(`datasets/eval/ppl/${f}.jsonl.gz`, tokenizer, { limit: PPL_DOCS[f] })).documents;
/** Perplexity of one model on each file's documents and on all of them. */
function perplexities(model: LlamaModel): Record<(typeof PPL_FILES)[number] | 'all', PplResult> {
  const out = {} as Record<(typeof PPL_FILES)[number] | 'all', PplResult>;
  for (const f of PPL_FILES) out[f] = evaluatePerplexity(model, pplDocs[f], { batch: 8 }).total;
  const sum = (key: 'tokens' | 'bytes' | 'nll') => PPL_FILES.reduce((a, f) => a + out[f][key], 0);
  const nll = sum('nll'), tokens = sum('tokens'), bytes = sum('bytes');
  out.all = { tokens: tokens, bytes: bytes, nll: nll, loss: nll / tokens, ppl: Math.exp(nll / tokens), bpb: nll / Math.LN2 / bytes };
  return out;
}
t = performance.now();
const basePpl = perplexities(models.base);
showMarkdown(`the base model (${seconds(t)}):

| held-out text | documents | tokens | bytes per token | loss | perplexity | bits per byte |
|---|---:|---:|---:|---:|---:|---:|
${[...PPL_FILES, 'all' as const].map((f) => {
  const r = basePpl[f];
  return `| ${f} | ${f === 'all' ? PPL_FILES.reduce((a, g) => a + pplDocs[g].length, 0) : pplDocs[f].length} | ${r.tokens.toLocaleString('en')} | ${(r.bytes / r.tokens).toFixed(2)} | ${r.loss.toFixed(3)} | ${r.ppl.toFixed(1)} | ${r.bpb.toFixed(3)} |`;
}).join('\n')}`);

// %% [markdown]
// The model is far better than any unigram model — about 1.8 bits per byte against 3.5 for the best of them:
// the context is most of what it knows. The classical poems are the hardest text (short documents, so little
// context, and rare characters). On all 672 documents (115,269 tokens) its loss comes to 4.01 nats per token,
// the final validation loss its training run reported on the same split (4.014, `datasets/README.md`).
//
// ### The sliding window
//
// A document longer than the context (512 tokens here) cannot be scored in one pass. The simplest way cuts
// it into windows of `window` tokens — but then the first tokens of each window are predicted with almost
// no context, and the loss comes out too high. With a **stride** below the window, windows overlap: each
// window predicts only the `stride` tokens the previous ones did not, and every one of those sees at least
// `window − stride` tokens before it (Hugging Face's "perplexity of fixed-length models"). The cost is
// window/stride times the forward passes. How much context is worth, on a State of the Union address of
// 7,572 tokens: the loss of each position of 512-token windows (one starting every 128 tokens), averaged
// over the windows and over bins of positions; then the perplexity of the whole address, window by window.

// %%
import { slidingWindows } from './lib/eval/perplexity.js';
import { tokenLogProbsOfRows } from './lib/eval/logprobs.js';

const longDoc = pplDocument(tokenizer, readTexts('datasets/eval/ppl/en.jsonl.gz')[2]!);
const W = models.base.config.maxSeq;
t = performance.now();
// Rows of W + 1 ids, each predicting W tokens, at positions 1 … W of its window.
const chunks: number[][] = [];
for (let begin = 0; begin + W + 1 <= longDoc.ids.length; begin += 128) chunks.push(longDoc.ids.slice(begin, begin + W + 1));
const byPosition = tokenLogProbsOfRows(models.base, chunks, 8);
const bins = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]; // positions [bins[i], bins[i + 1])
const binned = bins.slice(0, -1).map((from, i) => {
  let sum = 0, n = 0;
  for (const row of byPosition) for (let p = from; p < bins[i + 1]!; p++) { sum -= row[p - 1]!; n++; }
  return sum / n;
});
showPlotly(linePlot([{ name: 'base model', x: bins.slice(0, -1).map((b, i) => `${b}–${bins[i + 1]! - 1}`), y: binned }], {
  title: `loss by position in the window (${chunks.length} windows of ${W} tokens)`, xTitle: 'tokens of context before the prediction', yTitle: 'mean loss (nats)', height: 300,
}));
const settings: [number, number][] = [[32, 32], [64, 64], [128, 128], [256, 256], [512, 512], [512, 256], [512, 128]];
const bySetting = settings.map(([window, stride]) => {
  const s = performance.now();
  const r = evaluatePerplexity(models.base, [longDoc], { window: window, stride: stride, batch: 8 }).total;
  return { window, stride, r, passes: slidingWindows(longDoc.ids.length, window, stride).length, ms: performance.now() - s };
});
showMarkdown(`${longDoc.ids.length - 1} tokens, ${longDoc.bytes.toLocaleString('en')} bytes (${seconds(t)}):

| window | stride | windows | least context of a prediction | perplexity | bits per byte | time |
|---:|---:|---:|---:|---:|---:|---:|
${bySetting.map(({ window, stride, r, passes, ms }) => `| ${window} | ${stride} | ${passes} | ${window === stride ? 0 : window - stride} | ${r.ppl.toFixed(2)} | ${r.bpb.toFixed(4)} | ${(ms / 1000).toFixed(1)} s |`).join('\n')}`);

// %% [markdown]
// The first token of a window, with nothing before it, costs about 2.4 nats more than one with a long
// context, and the next two about one more; after that the gain is small but steady, from about 3.7 nats
// with 4–15 tokens of context to 3.4 with more than 64. Every window starts over, so short windows pay the
// start often: the perplexity of the same text falls from about 42 with windows of 32 tokens to about 31
// with 512. Overlapping windows (stride 256) take another few
// percent off, for twice the passes; a stride of 128 adds nothing more here. Report the window and stride
// with a perplexity: `tinyllm eval --task ppl --window 512 --stride 256`.
//
// ## 2. Multiple choice: letter scoring and option scoring
//
// C-Eval and CMMLU ask four-option questions in Chinese; MMLU in English. `datasets/eval/mcq` is in
// C-Eval's file layout (`readMcq` reads both layouts), made from the facts of the SFT set, with the right
// answers balanced over A–D. There are two ways to ask a model such a question:
//
// - **Letter scoring** (as CMMLU's script does it): the prompt lists the options and ends in `答案是：`; the
//   prediction is whichever of the tokens `A`, `B`, `C`, `D` the model finds likeliest next (`mcqPrompt`:
//   CMMLU's header, `--shots k` worked examples from the subject's `dev` rows, the question). We use this
//   prompt for both layouts; C-Eval's own script words it a little differently
//   (`以下是中国关于{subject}考试的单项选择题，请选出其中的正确答案。`, no `题目：`, `答案：`).
// - **Option scoring** (lm-evaluation-harness's `acc_norm`): for each option, the log-likelihood of its
//   text as the continuation of `题目：{question}\n答案是：` (`clozeContext`), divided by its length in UTF-8
//   bytes so that long options are not penalised for being long; the likeliest option is the prediction.
//
// One item, both ways:

// %%
import { clozeContext, evaluateMcq, mcqPrompt, type McqReport } from './lib/eval/mcq.js';
import { LETTERS, readMcq } from './lib/eval/mcq-data.js';

const mcq = readMcq('datasets/eval/mcq');
const subject = mcq.subjects.find((s) => s.key === 'poem_author')!;
const item = subject.items[0]!;
const fence = (s: string) => `\`\`\`\n${s}\n\`\`\``;
showMarkdown(`${mcq.subjects.length} subjects, ${mcq.subjects.reduce((a, s) => a + s.items.length, 0).toLocaleString('en')} items (split \`${mcq.split}\`); answers: ${LETTERS.map((l) => `${l} ${mcq.subjects.reduce((a, s) => a + s.items.filter((i) => i.answer === l).length, 0)}`).join(', ')}

**letter scoring**, one shot (\`mcqPrompt(subject.name, item, subject.dev.slice(0, 1))\`), scored: the next token's probability of A, B, C, D

${fence(mcqPrompt(subject.name, item, subject.dev.slice(0, 1)))}

**option scoring** (\`clozeContext(item)\` + each option), scored: log p(option | context) per byte

${fence(item.options.map((o) => clozeContext(item) + o).join('\n\n'))}

right answer: **${item.answer}** (${item.options[LETTERS.indexOf(item.answer!)]})`);

// %% [markdown]
// Now every item, both ways, zero-shot, for the base and the chat model. Besides the accuracy, look at what
// each model *answers*: how often it picks each letter, and — in letter scoring — how much probability it
// puts on the four letters at all.

// %%
const evaluated: Record<string, McqReport> = {};
const mcqTimes: Record<string, number> = {};
const runMcq = (model: ModelName, score: 'letter' | 'option') => {
  const s = performance.now();
  evaluated[`${model} ${score}`] = evaluateMcq(models[model], tokenizer, mcq, { score: score, shots: 0, chat: false, batch: 16 });
  mcqTimes[`${model} ${score}`] = performance.now() - s;
  return evaluated[`${model} ${score}`]!;
};
const lettersOf = (r: McqReport) => LETTERS.map((l) => r.predictions.filter((p) => p.pred === l).length);
const interval = (a: { accuracy: number; interval: [number, number] }) => `${pct(a.accuracy)} [${pct(a.interval[0])}, ${pct(a.interval[1])}]`;
const rows: string[] = [];
for (const model of ['base', 'chat'] as const) {
  for (const score of ['letter', 'option'] as const) {
    const r = runMcq(model, score);
    const picked = lettersOf(r);
    // In letter scoring the scores are log p of the four letters: their probabilities summed is how much of its bet is on A–D at all.
    const mass = score === 'letter' ? pct(r.predictions.reduce((a, p) => a + p.scores.reduce((b, s) => b + Math.exp(s), 0), 0) / r.predictions.length) : '—';
    rows.push(`| ${model} | ${score} | ${interval(r.micro)} | ${picked.join(' / ')} | ${mass} | ${(mcqTimes[`${model} ${score}`]! / 1000).toFixed(1)} s |`);
  }
}
showMarkdown(`| model | scoring | accuracy [95% interval] | predictions A / B / C / D | p(A)+p(B)+p(C)+p(D) | time |
|---|---|---:|---:|---:|---:|
${rows.join('\n')}

(the right answers: ${LETTERS.map((l) => mcq.subjects.reduce((a, s) => a + s.items.filter((i) => i.answer === l).length, 0)).join(' / ')}; chance: 25%)`);

// %% [markdown]
// With letter scoring the base model answers **B** to 1,563 of the 1,647 questions: it has never seen a
// question followed by a letter, so what comes after `答案是：` is whatever its corpus made likely there, about
// the same whatever the question. On a set whose answers are balanced, a model that always says the same
// letter scores exactly 25%, and one that almost always does scores about that: the base model's 25.0% says
// nothing about what it knows. The chat model spreads its letters more (A most often), but they follow the
// right answers no more often than chance: 25.9%, an interval around 25%. Neither puts more than about 8% of
// its probability on the four letters at all. Letter scoring measures two things at once — knowing the
// answer, and the skill of mapping it to a letter in this format, which appears in models of billions of
// parameters, not millions. Below that it says "chance", whatever the model knows.
//
// Option scoring asks only the first: is `杜甫` a likelier continuation of the question than `王维`? The
// predictions spread evenly over A–D (the letters play no part), and the accuracy moves: the base model's
// 26.6% is still compatible with chance (its interval starts at 24.5%), the chat model's 28.9% is not — the
// questions are made from the facts of the SFT set, and a few of them stuck in 2.7M parameters. That is why
// reports on small models (the Open LLM Leaderboard's `acc_norm`, Pythia's, TinyLlama's) use option scoring,
// and why letter scoring of a small model is no evidence that it knows nothing.
//
// ## 3. How sure is an accuracy?
//
// n questions answered right or wrong are n coin flips with an unknown chance p of heads. The accuracy k/n
// estimates p with a spread of about √(p(1−p)/n) — on 100 items at p = 0.3, ±4.6 points. The **Wilson
// score interval** (Wilson, 1927) is the set of p for which the observed k/n would not be surprising at the
// 5% level:
//
// (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n),  z = 1.96
//
// Unlike the textbook p̂ ± z·√(p̂(1−p̂)/n) it stays within [0, 1], is not empty at 0 or n right, and covers
// the true p about 95% of the time even for small n (Newcombe 1998; Brown, Cai and DasGupta 2001). If
// chance (25%) lies inside a model's interval, the result does not show that the model beats guessing.

// %%
import { wilsonInterval } from './lib/eval/stats.js';

const ns = Array.from({ length: 61 }, (_, i) => Math.round(10 * 10 ** (i / 20))); // 10 … 10,000
showPlotly(linePlot([
  { name: '30% accuracy: upper end', x: ns, y: ns.map((n) => wilsonInterval(0.3 * n, n)[1]) },
  { name: '30% accuracy: lower end', x: ns, y: ns.map((n) => wilsonInterval(0.3 * n, n)[0]) },
  { name: 'chance (25%)', x: ns, y: ns.map(() => 0.25) },
], { title: 'the 95% Wilson interval of an accuracy of 30%, by number of questions', xTitle: 'questions (n)', yTitle: 'accuracy', logX: true, height: 320 }));
let needed = 10;
while (wilsonInterval(0.3 * needed, needed)[0] <= 0.25) needed++;
showMarkdown(`| correct of n | accuracy | 95% interval | width | beats chance? |
|---|---:|---:|---:|---|
${[[30, 100], [90, 300], [300, 1000], [494, 1647], [3000, 10000]].map(([k, n]) => {
  const [lo, hi] = wilsonInterval(k!, n!);
  return `| ${k} of ${n!.toLocaleString('en')} | ${pct(k! / n!)} | [${pct(lo)}, ${pct(hi)}] | ${(100 * (hi - lo)).toFixed(1)} points | ${lo > 0.25 ? 'yes' : 'not shown'} |`;
}).join('\n')}

At 30%, the interval clears 25% from n = **${needed}** on.`);

// %% [markdown]
// The width falls as 1/√n: four times the questions for half the width. 100 questions cannot tell a model
// at 30% from a guesser; 1,000 can. C-Eval's validation split has 1,346 questions over 52 subjects — a few
// dozen per subject, so its per-subject accuracies of small models are mostly noise; CMMLU has about 11,500
// questions over 67 subjects.
// `tinyllm eval --task mcq` prints each subject's interval and says whether the overall one clears chance.
//
// Two models scored **on the same items** can be compared more sharply than by whether their intervals
// overlap: only the items where they disagree carry information about which is better (McNemar's test).
// If b items are right only for the first model and c only for the second, then with no real difference
// b would be about (b + c)/2, with spread √(b + c)/2; z = (b − c)/√(b + c) beyond ±1.96 is a difference.
//
// ## 4. Base, chat and DPO side by side
//
// The DPO model too: multiple choice both ways, perplexity on the documents of section 1, and **generation**:
// greedy answers (`evaluateGeneration`, at most `GEN_TOKENS` tokens) to the first `GEN_QUESTIONS`
// questions of `datasets/sft/val.jsonl.gz` — held out from SFT and from DPO — scored by exact match
// (after NFKC and without whitespace), whether the reference is contained in the answer, and the F1 of the
// characters the answer and the reference share (SQuAD's word F1, with characters as words, which suits
// Chinese). Every model answers in the chat template, the base model too: it has never seen one, and it
// shows.

// %%
import { readQaItems, evaluateGeneration, type QaReport } from './lib/eval/generation.js';

const GEN_QUESTIONS = 24, GEN_TOKENS = 64;
runMcq('dpo', 'letter');
runMcq('dpo', 'option');
const qa = (await readQaItems('datasets/sft/val.jsonl.gz')).items.slice(0, GEN_QUESTIONS);
const ppl = {} as Record<ModelName, ReturnType<typeof perplexities>>;
const gen = {} as Record<ModelName, QaReport>;
const took = {} as Record<ModelName, { ppl: number; gen: number }>;
for (const name of MODELS) {
  let s = performance.now();
  ppl[name] = name === 'base' ? basePpl : perplexities(models[name]);
  const pplMs = performance.now() - s;
  s = performance.now();
  gen[name] = evaluateGeneration(models[name], tokenizer, qa, { maxTokens: GEN_TOKENS });
  took[name] = { ppl: pplMs, gen: performance.now() - s };
}
const mcqCell = (name: ModelName, score: 'letter' | 'option') => interval(evaluated[`${name} ${score}`]!.micro);
showMarkdown(`| model | option scoring [95%] | letter scoring [95%] | perplexity | bits per byte | exact | contains | character F1 | replies ended |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
${MODELS.map((name) => `| ${name} | ${mcqCell(name, 'option')} | ${mcqCell(name, 'letter')} | ${ppl[name].all.ppl.toFixed(1)} | ${ppl[name].all.bpb.toFixed(3)} | ${pct(gen[name].exact)} | ${pct(gen[name].contains)} | ${pct(gen[name].f1)} | ${pct(gen[name].stopped)} |`).join('\n')}

multiple choice: ${mcq.subjects.reduce((a, s) => a + s.items.length, 0).toLocaleString('en')} items, zero-shot; perplexity: the ${ppl.base.all.tokens.toLocaleString('en')} tokens of section 1; generation: ${GEN_QUESTIONS} questions, at most ${GEN_TOKENS} tokens. Times: ${MODELS.map((name) => `${name} perplexity ${(took[name].ppl / 1000).toFixed(1)} s, generation ${(took[name].gen / 1000).toFixed(1)} s`).join('; ')}`);

// %% [markdown]
// Per subject, option scoring, with each accuracy's 95% interval as an error bar:

// %%
const perSubject = plotlyFigure(MODELS.map((name) => {
  const subjects = evaluated[`${name} option`]!.subjects;
  return {
    type: 'bar', name: name, x: subjects.map((s) => s.name), y: subjects.map((s) => s.accuracy),
    error_y: { type: 'data', symmetric: false, array: subjects.map((s) => s.interval[1] - s.accuracy), arrayminus: subjects.map((s) => s.accuracy - s.interval[0]) },
  };
}), { title: 'option-scoring accuracy per subject (95% intervals); the line: chance', yTitle: 'accuracy', height: 360 });
perSubject.layout.barmode = 'group';
perSubject.layout.shapes = [{ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: 0.25, y1: 0.25, line: { dash: 'dot', color: '#888' } }];
showPlotly(perSubject);

/** McNemar's z for two models' predictions on the same items: (b − c)/√(b + c). */
function mcnemar(a: McqReport, b: McqReport): { onlyA: number; onlyB: number; z: number } {
  let onlyA = 0, onlyB = 0;
  a.predictions.forEach((p, i) => {
    const rightA = p.pred === p.answer, rightB = b.predictions[i]!.pred === p.answer;
    if (rightA && !rightB) onlyA++;
    if (rightB && !rightA) onlyB++;
  });
  return { onlyA, onlyB, z: (onlyA - onlyB) / Math.sqrt(onlyA + onlyB) };
}
const pairs: [ModelName, ModelName][] = [['chat', 'base'], ['dpo', 'chat'], ['dpo', 'base']];
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, '⏎');
showMarkdown(`option scoring, the same items: McNemar's test

| | right only for the first | right only for the second | z |
|---|---:|---:|---:|
${pairs.map(([a, b]) => {
  const m = mcnemar(evaluated[`${a} option`]!, evaluated[`${b} option`]!);
  return `| ${a} vs ${b} | ${m.onlyA} | ${m.onlyB} | ${m.z.toFixed(2)} |`;
}).join('\n')}

the first four generation questions:

| question | reference | base | chat | dpo |
|---|---|---|---|---|
${qa.slice(0, 4).map((q, i) => `| ${cell(q.prompt[q.prompt.length - 1]!.content)} | ${cell(q.answer)} | ${MODELS.map((name) => cell(gen[name].predictions[i]!.pred)).join(' | ')} |`).join('\n')}`);

// %% [markdown]
// What the table says about the three stages:
//
// - **Pretraining** puts the knowledge in: the base model has by far the lowest perplexity on held-out
//   corpus text. It cannot answer a question: it never stops (no reply ended within 64 tokens) and
//   continues in the voice of a man page or a catalogue, sharing only common characters with the answers.
// - **SFT** trades some of that for the format. Its perplexity on corpus text more than doubles (the model
//   now expects conversations, not documents, and nothing in its loss asked it to keep the rest), while it
//   answers in the reference's shape, ends most replies, and shares half its characters with the reference
//   answer. Its option accuracy is above chance where the base model's is not — yet the paired test says
//   the difference between the two (z ≈ 1.8) is not shown at the 5% level: one interval clearing 25% and
//   the other not does not make the difference between them significant.
// - **DPO** changes the form of the answers (notebook 10: fewer repetitions and cut-offs) more than what
//   the model knows: its multiple-choice accuracy is within noise of the chat model's (z ≈ 0.7), and its
//   perplexity on corpus text rises a little further.
//
// And about the measurements: letter scoring says "chance" for all three; option scoring tells them from
// chance only because 1,647 items make its interval about ±2 points — per subject (224 to 300 items) the
// error bars are about ±5 points and most of them reach down to 25%, and `诗句出处` sits just below it for
// all three models. Exact
// match and contains are 0 for every model: the references are whole sentences, which a small model does
// not reproduce word for word, so character F1 is the one that moves. And 24 questions are enough to see
// the format change (F1 7% → about 45%, replies ended 0 → about 90%), but not to rank the chat and DPO models
// against each other: a reply or two either way is the whole difference.
//
// ## 5. The real benchmarks, on the command line
//
// `tinyllm eval` runs all three tasks on any model directory (`--adapter` for a LoRA adapter):
//
// ```bash
// npx tinyllm eval --model datasets/models/chat --task ppl --data datasets/eval/ppl/en.jsonl.gz --window 512 --stride 256
// npx tinyllm eval --model datasets/models/chat --task mcq --data datasets/eval/mcq --score option
// npx tinyllm eval --model datasets/models/chat --task gen --data datasets/sft/val.jsonl.gz --limit 100 --predictions gen.jsonl
// ```
//
// The real C-Eval and CMMLU are not shipped (both are CC BY-NC-SA 4.0): download C-Eval's `ceval-exam.zip`
// (the Hugging Face dataset `ceval/ceval-exam`, or https://github.com/hkust-nlp/ceval) and CMMLU
// (https://github.com/haonan-li/CMMLU), unzip, and point `--data` at the folder — C-Eval's has `dev/`,
// `val/`, `test/` with `{subject}_{split}.csv` (the `test` answers are withheld: `val` is scored by default),
// CMMLU's `dev/` and `test/` with `{subject}.csv`. The prompt's header names the subject in Chinese from a
// `subject_mapping.json` beside those folders (C-Eval's, from its GitHub repository: `{"computer_network":
// ["Computer Network", "计算机网络", "STEM"], …}`); CMMLU has no such file, so its 67 file names are looked up
// in `lib/eval/cmmlu-subjects.ts` (`chinese_history` → 中国历史, as CMMLU's own script names them); any other
// file name is used as it is (`my_subject` → `my subject`).
//
// ```bash
// unzip ceval-exam.zip -d ceval-exam && cp ceval/subject_mapping.json ceval-exam/   # the zip, and a clone of C-Eval's repository
// npx tinyllm eval --model runs/sft/final --task mcq --data ceval-exam --score letter --shots 5   # five-shot, as the papers report
// npx tinyllm eval --model runs/sft/final --task mcq --data ceval-exam --score option             # what a small model shows
// npx tinyllm eval --model runs/sft/final --task mcq --data CMMLU/data --score letter --chat --json
// ```
//
// `--shots 5` puts five worked examples from the subject's `dev` rows before each question (dropping
// examples for a prompt that would not fit the context, as CMMLU's script does, and saying how many);
// `--chat` wraps the prompt as a user message for chat models; `--predictions` writes every item's scores.
// Expect our models at chance on both: these benchmarks ask school and university exam questions, far from
// what a 2.7M-parameter model trained on poems and manuals can know. The numbers to quote are the
// interval and the subjects' count, not the accuracy alone.
//
// ## Exercises
//
// In `exercises/11-evaluation.ts`, implement `surprise` (loss, perplexity and bits per byte of per-token
// log-probabilities over several texts), `cmmluPrompt` (the letter-scoring prompt, character for character)
// and `accuracyInterval` (the Wilson interval), then run `npm run check -- 11`: the tests compare them with
// transformers' perplexity of the chat model, with `mcqPrompt` and the Python reference's prompts, and with
// the values of Newcombe (1998).

// %%
import * as mine from './exercises/11-evaluation.js';

try {
  const first = pplDocs.en[0]!;
  const logProbs = Array.from(tokenLogProbsOfRows(models.base, [first.ids.slice(0, W + 1)])[0]!);
  const yours = mine.surprise([{ logProbs: logProbs, bytes: Buffer.byteLength(tokenizer.decode(first.ids.slice(1, W + 1)), 'utf8') }]);
  console.log(`your surprise of the first ${W} tokens of the English document: perplexity ${yours.perplexity.toFixed(2)}, bits per byte ${yours.bitsPerByte.toFixed(3)}`);
  console.log('your prompt is mcqPrompt\'s:', mine.cmmluPrompt(subject.name, item, subject.dev.slice(0, 1)) === mcqPrompt(subject.name, item, subject.dev.slice(0, 1)));
  const chat = evaluated['chat option']!.micro;
  console.log('your interval of the chat model\'s option accuracy:', mine.accuracyInterval(chat.correct, chat.n), 'lib:', chat.interval);
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
for (const name of MODELS) models[name].dispose();
console.log(`notebook ran in ${((performance.now() - started) / 1000).toFixed(0)} s`);
