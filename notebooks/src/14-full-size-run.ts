// %% [markdown]
// # 14 · The full-size run: the `92m` preset through the whole pipeline on one GPU
//
// Notebooks 07–13 ran every stage on a CPU with small models. This one reads a real run of the `92m` preset on
// one NVIDIA H100: pretraining on a corpus eight times the shipped one, SFT, DPO, evaluation, q8_0 and q4_0
// quantization, GGUF export and a served chat. The run took a quarter of an hour on the GPU; this notebook
// does not repeat it. It reads what the run left in `results/92m/` (committed, with the script that made it)
// through `lib/report/recorded-run.ts`, and asks:
//
// 1. **what ran**, and how to run it again;
// 2. **the loss curves** of the three training stages, and what they say;
// 3. **where the time went**: each stage's seconds and GPU memory, tokens per second, and how much of the
//    GPU's arithmetic the training used (MFU);
// 4. **the models' scores** — base, SFT, DPO and the two quantized DPO models — next to published models
//    of the same size;
// 5. **the final model's answers**, to held-out questions and through the OpenAI-compatible server;
// 6. **how to scale it**: bigger presets, bigger batches, the tokens they need and the hours that takes.

// %%
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { countParameters, presetConfig, trainingFlopsPerToken } from './lib/model/config.js';
import { lossCurvesSpec, MCQ_SCORINGS, PPL_TEXTS, readCommandsLog, readEvalReports, readGenPredictions, readMetrics, STAGES, windowMeans, type EvalReports, type Stage } from './lib/report/recorded-run.js';
import type { StepMetrics } from './lib/train/loop.js';
import { showMarkdown, showPlotly, showVegaLite } from './lib/viz/display.js';
import { linePlot } from './lib/viz/plotly.js';

const started = performance.now();
const RUN = 'results/92m';
const MODELS = ['base', 'sft', 'dpo', 'dpo-q8_0', 'dpo-q4_0'] as const;
type ModelName = (typeof MODELS)[number];
const metrics = Object.fromEntries(STAGES.map((s) => [s, readMetrics(`${RUN}/metrics/${s}.jsonl.gz`)])) as Record<Stage, StepMetrics[]>;
const commands = readCommandsLog(`${RUN}/commands.log`);
const reports = Object.fromEntries(MODELS.map((m) => [m, readEvalReports(`${RUN}/eval/${m}`)])) as Record<ModelName, EvalReports>;

/** A number with thousands separators and `digits` decimals. */
const num = (x: number, digits = 0) => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
/** A share as a percentage. */
const pct = (x: number, digits = 1) => `${(100 * x).toFixed(digits)}%`;
/** The value of `--flag <value>` in a logged command. */
const flag = (command: string, name: string) => new RegExp(`(?:^| )--${name} (\\S+)`).exec(command)?.[1];
console.log(STAGES.map((s) => `${s}: ${num(metrics[s].length)} steps`).join(', '), `· ${commands.length} commands logged · reports of ${MODELS.join(', ')}`);

// %% [markdown]
// ## 1. What ran, and how to run it again
//
// `results/92m/run.sh` is the whole run as a script: each stage (data, pretrain, sft, dpo, eval, quantize,
// export, serve) is a handful of `tinyllm` commands, and every command goes into `commands.log` with its wall
// time and the most GPU memory in use while it ran. The GPU machine has no npm, so there the CLI ran as one
// bundled file, `node .device/main.mjs` (written `tinyllm` below, and `/tmp/run92m` as `$RUN`). One command
// of each kind, as logged:

// %%
/** The run.sh stage a logged command belongs to. */
function stageOf(command: string): string {
  if (command.startsWith('curl ')) return 'serve';
  const sub = command.split(' ').find((w) => ['data', 'train', 'sft', 'dpo', 'eval', 'quantize', 'export'].includes(w));
  return sub === 'train' ? 'pretrain' : sub ?? 'other';
}
const readable = (command: string) => command.replace('node .device/main.mjs', 'tinyllm').replaceAll('/tmp/run92m', '$RUN');
const firstOfEach = new Map<string, string>();
for (const { command } of commands) {
  const kind = `${stageOf(command)} ${/--task (\w+)/.exec(command)?.[1] ?? ''}`;
  if (!firstOfEach.has(kind)) firstOfEach.set(kind, readable(command));
}
const pretrainCommand = commands.find((c) => stageOf(c.command) === 'pretrain')!.command;
const pretrainSteps = Number(flag(pretrainCommand, 'steps'));
showMarkdown(`\`\`\`bash\n${[...firstOfEach.values()].join('\n')}\n\`\`\``);

// %% [markdown]
// To make it again you need the larger corpus (section "A larger corpus" of `datasets/README.md`: 101.9M
// tokens from freely licensed Debian, npm and PyPI packages, written outside the repository), then the script.
// Pretraining stops itself with a checkpoint after `PRETRAIN_SECONDS` (SIGINT; each command on the GPU
// machine could run 10 minutes) and the next call of the script continues it with `--resume` — exactly, the
// same losses as an uninterrupted run. Here it took two calls.

// %%
showMarkdown(`\`\`\`bash
sudo apt install opencc                                                    # traditional → simplified script
npx tsx datasets/build-corpus.ts --large --out /tmp/tinyllm-large          # 101.9M tokens, ~3 min
RUN=/tmp/run92m CORPUS=/tmp/tinyllm-large STEPS=${pretrainSteps} STAGES=data,pretrain bash results/92m/run.sh
RUN=/tmp/run92m STEPS=${pretrainSteps} STAGES=pretrain bash results/92m/run.sh             # again until $RUN/pretrain/final exists
RUN=/tmp/run92m STAGES=sft,dpo,eval,quantize,export,serve bash results/92m/run.sh
\`\`\`

Pretraining ran ${commands.filter((c) => stageOf(c.command) === 'pretrain').map((c) => `${c.seconds} s`).join(' + ')}; \`--steps ${pretrainSteps} --batch ${flag(pretrainCommand, 'batch')} --seq ${flag(pretrainCommand, 'seq')}\`.`);

// %% [markdown]
// **Why the shipped tokenizer, with 6,400 tokens.** The `92m` preset has tiny-llm-zh's 92m shape: width 512,
// 8 layers, FFN 1,408. Its "92M" counts tiny-llm-zh's 64,798-token vocabulary: the embedding and the
// untied LM head are each V × 512. The transformer layers are the same at any vocabulary; what the
// vocabulary changes is how much of the model is a lookup table, and how often each of its rows is trained.

// %%
const vocabRows = [6400, 64798].map((V) => {
  const config = presetConfig('92m', { vocabSize: V });
  const count = countParameters(config);
  const flops = trainingFlopsPerToken(config, 1024);
  return { V, count, head: V * config.hidden, headFlops: (6 * V * config.hidden) / flops, perId: 101.9e6 / V };
});
showMarkdown(`| vocabulary | parameters | non-embedding | embedding + head | the head's share of training FLOPs (T = 1,024) | corpus tokens per id |
|---:|---:|---:|---:|---:|---:|
${vocabRows.map((r) => `| ${num(r.V)} | ${num(r.count.total / 1e6, 2)}M | ${num(r.count.nonEmbedding / 1e6, 2)}M | ${num(r.count.embedding / 1e6, 2)}M (${pct(r.count.embedding / r.count.total, 0)}) | ${pct(r.headFlops, 0)} | ${num(r.perId)} |`).join('\n')}`);

// %% [markdown]
// At vocabulary 6,400 the preset is 32.25M parameters, 25.70M of them outside the embedding and head. The
// ~102M tokens of the corpus give each of 6,400 ids about 16,000 occurrences; spread over 64,798 ids they
// would give each about 1,600 on average — and far fewer to most, since token frequencies fall steeply — so
// most rows of the embedding and the head would be rarely trained, while the two matrices would be 72% of
// the parameters and the head's product half of the training FLOPs. And the SFT, DPO and evaluation data
// and all the other notebooks use the shipped tokenizer, so the run's models can be compared with theirs.
//
// ## 2. The loss curves
//
// Training loss (means over windows of steps: pretraining batches differ a lot from one another — a batch
// of poems, a batch of manuals) and validation loss, for the three stages:

// %%
showVegaLite(lossCurvesSpec(metrics));

// %%
const validation = (stage: Stage) => metrics[stage].filter((r) => r.val_loss !== undefined).map((r) => ({ step: r.step, loss: r.val_loss! }));
/** Least-squares slope of y against x. */
function slope(xs: number[], ys: number[]): number {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  return xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
}
const preVal = validation('pretrain');
const lastStep = metrics.pretrain.at(-1)!.step;
const tail = preVal.filter((p) => p.step >= lastStep - 1000);
const perThousand = 1000 * slope(tail.map((p) => p.step), tail.map((p) => p.loss));
showPlotly(linePlot([
  { name: 'train (means of 50 steps)', x: windowMeans(metrics.pretrain, 'loss', 50).map(([s]) => s), y: windowMeans(metrics.pretrain, 'loss', 50).map(([, l]) => l) },
  { name: 'validation', x: preVal.map((p) => p.step), y: preVal.map((p) => p.loss) },
], { title: 'Pretraining: loss per token', xTitle: 'step', yTitle: 'loss (nats)', logY: true, height: 340 }));
showMarkdown(`Validation loss ${preVal[0]!.loss.toFixed(2)} at step ${preVal[0]!.step} → **${preVal.at(-1)!.loss.toFixed(3)}** at step ${num(lastStep)} (perplexity ${num(Math.exp(preVal.at(-1)!.loss), 1)} per token); over the last 1,000 steps it still fell by **${num(-perThousand, 3)} per 1,000 steps** (least squares over ${tail.length} validations), with the learning rate at the end of its cosine, ${metrics.pretrain.at(-1)!.lr.toExponential(1)}.`);

// %% [markdown]
// The model had not finished learning: a longer run (more steps, or the same steps with a later end to the
// cosine) would go lower. Section 6 puts a number on "longer".
//
// SFT's curves are noisier: each batch is 32 conversations. To see the trend through the noise,
// TensorBoard smooths a curve with an **exponential moving average**: sₜ = β·sₜ₋₁ + (1 − β)·xₜ, where β
// near 1 remembers longer. Started from s₀ = 0 it is pulled towards 0 for the first ~1/(1 − β) steps, so
// each value is divided by 1 − βᵗ, the weight the average has gathered so far (Adam's bias correction).
// That is the first exercise; here is the notebook's own.

// %%
/** Bias-corrected exponential moving average (TensorBoard's smoothing). */
function smooth(values: number[], beta: number): number[] {
  let s = 0;
  return values.map((x, i) => (s = beta * s + (1 - beta) * x) / (1 - beta ** (i + 1)));
}
const sftSteps = metrics.sft.map((r) => r.step);
const sftLoss = metrics.sft.map((r) => r.loss);
const sftVal = validation('sft');
showPlotly(linePlot([
  { name: 'train, each step', x: sftSteps, y: sftLoss },
  { name: 'train, EMA β = 0.95', x: sftSteps, y: smooth(sftLoss, 0.95) },
  { name: 'validation', x: sftVal.map((p) => p.step), y: sftVal.map((p) => p.loss) },
], { title: 'SFT: loss per answer token', xTitle: 'step', yTitle: 'loss (nats)', height: 340 }));
const sftBest = sftVal.reduce((a, b) => (b.loss < a.loss ? b : a));
const sftCommand = commands.find((c) => stageOf(c.command) === 'sft')!.command;
const sftTrain = gunzipSync(readFileSync('datasets/sft/train.jsonl.gz')).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { conversations: { role: string; content: string }[] });
const sftConversations = sftTrain.length;
const sftBatch = Number(flag(sftCommand, 'batch'));
const sftEpochs = (metrics.sft.length * sftBatch) / sftConversations;
const sftEma = smooth(sftLoss, 0.95);
showMarkdown(`Validation loss is lowest at step **${sftBest.step}** (${sftBest.loss.toFixed(3)}) and ends at ${sftVal.at(-1)!.loss.toFixed(3)}, while the smoothed training loss keeps falling, ${sftEma[sftBest.step - 1]!.toFixed(2)} → ${sftEma.at(-1)!.toFixed(2)}: **over-fitting** — ${num(metrics.sft.length)} steps × ${flag(sftCommand, 'batch')} conversations are ${sftEpochs.toFixed(1)} epochs of the ${num(sftConversations)} training conversations; past the best step (${((sftBest.step * sftBatch) / sftConversations).toFixed(1)} epochs) the model learns those answers by heart rather than how to answer.`);

// %%
const dpoVal = metrics.dpo.filter((r) => r.val_loss !== undefined);
showPlotly(linePlot([
  { name: 'validation loss', x: dpoVal.map((r) => r.step), y: dpoVal.map((r) => r.val_loss!) },
  { name: 'validation reward accuracy', x: dpoVal.map((r) => r.step), y: dpoVal.map((r) => r['val_rewards/accuracies']!) },
  { name: 'validation reward of the chosen', x: dpoVal.map((r) => r.step), y: dpoVal.map((r) => r['val_rewards/chosen']!) },
], { title: 'DPO on held-out pairs', xTitle: 'step', height: 320 }));
showMarkdown(`DPO's validation loss falls, ${dpoVal[0]!.val_loss!.toFixed(3)} → ${dpoVal.at(-1)!.val_loss!.toFixed(3)} (ln 2 = 0.693 at the start, where the model is its own reference), and the chosen answer gets the higher implicit reward in ${pct(dpoVal[0]!['val_rewards/accuracies']!, 0)} → **${pct(dpoVal.at(-1)!['val_rewards/accuracies']!, 0)}** of held-out pairs. Section 4 asks whether that made the answers better.`);

// %% [markdown]
// ## 3. Where the time went
//
// `commands.log` by stage: wall time (start-up, loading and saving included) and the most GPU memory in use
// while the stage ran, sampled by `nvidia-smi` every half second.

// %%
const byStage = new Map<string, { commands: number; seconds: number; peak: number | null }>();
for (const c of commands) {
  const row = byStage.get(stageOf(c.command)) ?? { commands: 0, seconds: 0, peak: null };
  row.commands += 1;
  row.seconds += c.seconds;
  if (c.peakGpuMiB !== null) row.peak = Math.max(row.peak ?? 0, c.peakGpuMiB);
  byStage.set(stageOf(c.command), row);
}
const totalSeconds = commands.reduce((s, c) => s + c.seconds, 0);
showMarkdown(`| stage | commands | seconds | share | peak GPU memory |
|---|---:|---:|---:|---:|
${[...byStage].map(([stage, r]) => `| ${stage} | ${r.commands} | ${num(r.seconds)} | ${pct(r.seconds / totalSeconds, 0)} | ${r.peak === null ? '—' : r.peak === 0 ? 'none' : `${num(r.peak / 1024, 1)} GiB`} |`).join('\n')}
| **all** | ${commands.length} | **${num(totalSeconds)}** (${(totalSeconds / 60).toFixed(1)} min) | | |`);

// %% [markdown]
// Pretraining took most of the time. How fast was it? The metrics give each step's tokens
// per second; their median is not moved by the slow first steps (kernels being compiled) or by a step slowed
// by a validation or a checkpoint.
// **MFU** (model FLOPs utilisation) is the share of the GPU's peak arithmetic that went into the model:
// tokens/s × training FLOPs per token ÷ peak FLOP/s. FLOPs per token is 6 per weight a token meets (2 forward,
// 4 backward), the LM head included, plus attention's 12·L·T·D (`trainingFlopsPerToken`, as nanoGPT counts).
// The peak is the H100 SXM's dense bf16 figure, 989 TFLOP/s.

// %%
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const H100_BF16_PEAK = 989e12;
// The splits `data prepare` made of the corpus (its report in the run: train 101.32M tokens in 375,357
// documents, val 978,989 tokens in 3,791 documents of 2,736,330 UTF-8 bytes; each document ends in <|endoftext|>).
const TRAIN_SPLIT_TOKENS = 101.32e6;
const VAL_SPLIT = { tokens: 978_989, bytes: 2_736_330 };
const config92m = presetConfig('92m', { vocabSize: 6400 });
const seq = Number(flag(pretrainCommand, 'seq'));
const flopsPerToken = trainingFlopsPerToken(config92m, seq);
const tokS = median(metrics.pretrain.map((r) => r.tok_s));
const pretrainTokens = metrics.pretrain.at(-1)!.tokens;
const mfu = (tokS * flopsPerToken) / H100_BF16_PEAK;
const pretrainSeconds = byStage.get('pretrain')!.seconds;
showMarkdown(`| | pretraining of \`92m\` (vocabulary 6,400, T = ${num(seq)}) |
|---|---:|
| tokens per second, median step | **${num(tokS)}** |
| tokens per second, wall clock (validation, checkpoints, start-up, resume included) | ${num(pretrainTokens / pretrainSeconds)} |
| tokens seen | ${num(pretrainTokens / 1e6, 1)}M (${num(metrics.pretrain.length)} steps) |
| epochs over the ${num(TRAIN_SPLIT_TOKENS / 1e6, 1)}M-token train split | ${(pretrainTokens / TRAIN_SPLIT_TOKENS).toFixed(2)} |
| training FLOPs per token | ${num(flopsPerToken / 1e6, 1)}M |
| model FLOP/s | ${num((tokS * flopsPerToken) / 1e12, 1)} TFLOP/s |
| **MFU** (of 989 TFLOP/s) | **${pct(mfu)}** |
| SFT, DPO: tokens per second, median step | ${num(median(metrics.sft.map((r) => r.tok_s)))}, ${num(median(metrics.dpo.map((r) => r.tok_s)))} |`);

// %% [markdown]
// An MFU of about 11% is low next to the 40–50% that large models reach, and expected at this width: every
// product here has a 512-wide side, too small to keep an H100's tensor cores busy, and the work that is not
// a product (norms, softmax, element-wise ops, each reading and writing activations in memory) weighs more
// next to small products. Wider presets use the GPU better (section 6 assumes they don't, so its hours for
// them are likely on the high side). Note also that the corpus went by almost three times: more tokens of
// new text would have been better than repeating it, had there been more to have.
//
// ## 4. The models' scores
//
// Every model was evaluated by the same commands (notebook 11): perplexity and bits per byte on
// `datasets/eval/ppl`'s texts in three styles, the multiple-choice set `datasets/eval/mcq` (1,647 questions in C-Eval's format) by letter
// and by option scoring, and greedy answers to the 477 held-out SFT questions (token F1 against the reference
// answer, and the share of answers that ended by themselves with `<|im_end|>`).

// **Held out, or not?** `datasets/eval/ppl` was held out of the *shipped* corpus, but the large corpus this
// run trained on contains most of those documents (all the classical poems and English texts): for these
// models they are text seen in training, about three times. The run's own held-out text is its validation
// split — 1% of the large corpus's documents, never trained on — whose loss the pretraining metrics log:

// %%
const heldOut = preVal.at(-1)!.loss;
showMarkdown(`Base model on the run's validation split at step ${num(lastStep)}: loss **${heldOut.toFixed(3)}** nats per token, perplexity **${Math.exp(heldOut).toFixed(2)}**, about **${((heldOut * VAL_SPLIT.tokens) / VAL_SPLIT.bytes / Math.LN2).toFixed(3)} bits per byte** (${num(VAL_SPLIT.tokens / VAL_SPLIT.bytes, 3)} tokens per byte in that split; the loss is measured on 20 batches of it, two thirds of its tokens).`);

// %%
const cell = (r: { accuracy: number; interval: [number, number] }) => `${pct(r.accuracy)} [${pct(r.interval[0])}, ${pct(r.interval[1])}]`;
showMarkdown(`**Perplexity per token / bits per byte** (lower is better)

| model | ${PPL_TEXTS.join(' | ')} |
|---|${PPL_TEXTS.map(() => '---:').join('|')}|
${MODELS.map((m) => `| ${m} | ${PPL_TEXTS.map((t) => `${reports[m].ppl[t]!.ppl.toFixed(1)} / ${reports[m].ppl[t]!.bpb.toFixed(3)}`).join(' | ')} |`).join('\n')}

**Multiple choice** (accuracy [95% Wilson interval]; chance 25%) **and generation**

| model | ${MCQ_SCORINGS.map((s) => `MCQ by ${s}`).join(' | ')} | gen F1 | gen exact | gen stopped |
|---|${MCQ_SCORINGS.map(() => '---:').join('|')}|---:|---:|---:|
${MODELS.map((m) => `| ${m} | ${MCQ_SCORINGS.map((s) => cell(reports[m].mcq[s]!)).join(' | ')} | ${reports[m].gen.f1.toFixed(3)} | ${pct(reports[m].gen.exact)} | ${pct(reports[m].gen.stopped)} |`).join('\n')}`);

// %% [markdown]
// Published models of this size, for scale — on **C-Eval and CMMLU**, not on our set:
//
// | model | parameters | trained on | C-Eval | CMMLU | how |
// |---|---:|---|---:|---:|---|
// | tiny-llm-zh 92m Base | 92M | up to 42B tokens, 8 GPUs | 23.48 | 25.02 | OpenCompass (wdndev/tiny-llm-zh README §3.4) |
// | tiny-llm-zh 92m Chat | 92M | | 26.79 | 26.59 | OpenCompass |
// | MiniMind2-Small | 26M | ~4B tokens | 26.37 | 24.97 | lm-evaluation-harness (jingyaogong/minimind README) |
// | minimind-v1-small | 26M | | 25.56 | | zero-shot, C-Eval val (jingyaogong/minimind README, v1) |
//
// Our MCQ set is not C-Eval: it asks for facts the SFT set taught (which poet wrote a line, what a command
// does; `datasets/README.md`, "eval/"), so it measures recall of what was taught, not general knowledge.

// %%
const optionOf = (m: ModelName) => reports[m].mcq.option!.accuracy;
const pplChange = (m: ModelName) => PPL_TEXTS.map((t) => reports[m].ppl[t]!.ppl / reports.dpo.ppl[t]!.ppl - 1);
const range = (xs: number[]) => `${pct(Math.min(...xs), 2)} to ${pct(Math.max(...xs), 2)}`;
const lastDpo = dpoVal.at(-1)!;
const dpoBeta = 0.1; // the dpo command gives no --beta: DPO_OPTIONS.beta
showMarkdown(`- **At this size everyone is at chance on C-Eval-style questions**: the published models above score 23–27%, and our letter scoring sits at ${pct(Math.min(...MODELS.map((m) => reports[m].mcq.letter!.accuracy)))}–${pct(Math.max(...MODELS.map((m) => reports[m].mcq.letter!.accuracy)))} for every model. By option scoring on its own fact set ours goes from ${pct(optionOf('base'), 0)} (base) to **${pct(optionOf('sft'), 0)} after SFT** and ${pct(optionOf('dpo'), 0)} after DPO: the facts were learned, partly.
- **DPO improved the preference metrics** (held-out reward accuracy ${pct(lastDpo['val_rewards/accuracies']!, 0)}) **but made free generation worse**: gen F1 ${reports.sft.gen.f1.toFixed(3)} → ${reports.dpo.gen.f1.toFixed(3)}, answers that end by themselves ${pct(reports.sft.gen.stopped)} → ${pct(reports.dpo.gen.stopped)}. The reward of the chosen answers is negative (${lastDpo['val_rewards/chosen']!.toFixed(2)} on held-out pairs, so their log-probability fell by ${num(-lastDpo['val_rewards/chosen']! / dpoBeta, 1)} nats per answer against the SFT model, at β = ${dpoBeta}): DPO widened the margin mostly by pushing the rejected answers down, and the chosen ones fell too — a known failure mode of DPO, and the likelihood of good text went with them. A lower learning rate or β, or fewer steps, is the next thing to try (or \`--sft-weight\`, which adds the chosen answers' SFT loss to keep them likely).
- **SFT cost perplexity on plain text**: ${PPL_TEXTS.map((t) => `${t} ${reports.base.ppl[t]!.ppl.toFixed(1)} → ${reports.sft.ppl[t]!.ppl.toFixed(1)}`).join(', ')} — with the over-fitting of section 2, another reason to stop SFT earlier.
- **Quantization**: q8_0 changes the DPO model's perplexity by ${range(pplChange('dpo-q8_0'))} — nearly lossless; q4_0 costs ${range(pplChange('dpo-q4_0'))}, a few percent.`);

// %% [markdown]
// ## 5. The final model's answers
//
// `eval --task gen --predictions` kept every greedy answer. Five held-out questions, one of each kind the SFT
// set teaches, with the reference answer and what the SFT and DPO models said (F1 in brackets; ⏎ a line
// break; long answers cut at 120 characters):

// %%
const predictions = (m: ModelName) => readGenPredictions(`${RUN}/eval/${m}/gen-predictions.jsonl.gz`);
const sftAnswers = predictions('sft');
const dpoAnswers = new Map(predictions('dpo').map((p) => [p.line, p]));
const kinds: [string, RegExp][] = [['next line of a poem', /下一句/], ['where a line is from', /出自/], ['LibreOffice help', /LibreOffice/], ['a command', /命令/], ['a State of the Union address', /State of the Union/]];
const chosen = kinds.map(([kind, pattern]) => [kind, sftAnswers.find((p) => pattern.test(p.question))!] as const);
const shown = (text: string) => {
  const flat = text.replace(/\|/g, '\\|').replace(/\n/g, ' ⏎ ');
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat;
};
showMarkdown(`| kind | question | reference | SFT | DPO |
|---|---|---|---|---|
${chosen.map(([kind, p]) => {
  const d = dpoAnswers.get(p.line)!;
  return `| ${kind} | ${shown(p.question)} | ${shown(p.answer)} | ${shown(p.pred)} (${p.f1.toFixed(2)}) | ${shown(d.pred)} (${d.f1.toFixed(2)}) |`;
}).join('\n')}`);

// %%
const better = sftAnswers.filter((p) => dpoAnswers.get(p.line)!.f1 > p.f1).length;
const worse = sftAnswers.filter((p) => dpoAnswers.get(p.line)!.f1 < p.f1).length;
const ranOn = (m: ModelName) => predictions(m).filter((p) => !p.stopped).length;
showMarkdown(`Over all ${sftAnswers.length} held-out questions DPO's answer has the higher F1 in ${better} and the lower in ${worse}; answers that run to the token limit without ending: ${ranOn('sft')} from SFT, ${ranOn('dpo')} from DPO.`);

// %% [markdown]
// The SFT answers have the right shape almost everywhere — "下一句是“…”，出自《…》中的《…》。", a sentence
// about what a command does — and a small model's facts: the right book and the wrong line, a plausible poet
// who did not write it. DPO's go wrong in a new way: some lose the shape and run on, repeating.
//
// The run's last stage started `tinyllm serve` on the DPO model and asked it three questions through the
// OpenAI API (`chat-transcript.md`: each `> question` line followed by the raw JSON reply, temperature 0):

// %%
const transcript = readFileSync(`${RUN}/chat-transcript.md`, 'utf8').split('\n');
interface ChatReply { model: string; choices: { message: { content: string }; finish_reason: string }[]; usage: { completion_tokens: number } }
const exchanges = transcript.flatMap((line, i) => {
  if (!line.startsWith('> ')) return [];
  const reply = JSON.parse(transcript.slice(i + 1).find((l) => l.trim() !== '')!) as ChatReply;
  return [{ question: line.slice(2), reply }];
});
showMarkdown(exchanges.map(({ question, reply }) => `**${question}**\n\n> ${reply.choices[0]!.message.content.replace(/\n/g, '\n> ')}\n\n<small>${reply.model}, ${reply.usage.completion_tokens} tokens, finish_reason ${reply.choices[0]!.finish_reason}</small>`).join('\n\n'));

// %%
const english = sftTrain.filter((c) => !/\p{Script=Han}/u.test(c.conversations[0]!.content));
const sotu = english.filter((c) => c.conversations.some((m) => /State of the Union/.test(m.content))).length;
showMarkdown(`SFT training conversations that open without a Chinese character: ${num(english.length)} of ${num(sftConversations)} (${pct(english.length / sftConversations)}); of those, ${num(sotu)} (${pct(sotu / english.length, 0)}) are about the State of the Union addresses.`);

// %% [markdown]
// It knows who it is (the SFT set's identity answer, all but one word), it knows the form of an answer about
// a poem but not this poem's next line, and the English question derails it into presidents and the State of
// the Union addresses: English conversations are few in the SFT set, and most of them are about those.
// `results/92m/llama-cpp.md` has the same model's GGUF exports answering under stock llama.cpp.
//
// ## 6. How to scale it
//
// **Bigger presets.** `tinyllm train --help` lists tiny-llm-zh's larger shapes — `210m`, `440m`, `1.5b` — with
// their parameters at vocabulary 6,400. **Bigger batches**: a step of `92m` here was `--batch 32 --seq 1024`,
// 32,768 tokens, and needed ~23 GiB; a bigger model needs more memory per sequence, so keep the step's tokens
// and split them: `--batch 8 --accum 4` runs four micro-batches of 8 and adds their gradients before one
// update — the same effective batch of 32 × 1,024 tokens with the activations of 8 sequences in memory
// instead of 32 (the weights and optimizer state stay as they are), at about the same tokens per second as
// long as a micro-batch still fills the GPU. **How many tokens**: Chinchilla's rule of thumb for a
// compute-optimal model is about 20 tokens per parameter. **How long**: tokens × FLOPs per token ÷ (MFU ×
// peak), here at the MFU this run measured (the second exercise, `trainingHours`).

// %%
/** Hours to train on `tokens` tokens at `perToken` FLOPs each, on `gpus` H100s at this run's MFU. */
const hoursAt = (tokens: number, perToken: number, gpus = 1) => (tokens * perToken) / (mfu * H100_BF16_PEAK * gpus) / 3600;
const hours = (h: number) => `${num(h, h < 1 ? 2 : 1)} h`;
const scaleRows = ['92m', '210m', '440m', '1.5b'].map((name) => {
  const config = presetConfig(name, { vocabSize: 6400 });
  const params = countParameters(config).total;
  const perToken = trainingFlopsPerToken(config, 1024);
  return { name, params, perToken, tokens: 20 * params };
});
showMarkdown(`| preset | parameters | FLOPs per token | 20 tokens per parameter | epochs of our ${num(TRAIN_SPLIT_TOKENS / 1e6, 1)}M tokens | one H100 at ${pct(mfu)} MFU | 8 H100s (ideal) |
|---|---:|---:|---:|---:|---:|---:|
| \`92m\`, this run | ${num(scaleRows[0]!.params / 1e6, 2)}M | ${num(flopsPerToken / 1e6)}M | ${num(pretrainTokens / 1e9, 2)}B (seen) | ${(pretrainTokens / TRAIN_SPLIT_TOKENS).toFixed(1)} | ${hours(hoursAt(pretrainTokens, flopsPerToken))} (measured: ${hours(pretrainSeconds / 3600)}) | |
${scaleRows.map((r) => `| \`${r.name}\` | ${num(r.params / 1e6, 2)}M | ${num(r.perToken / 1e6)}M | ${num(r.tokens / 1e9, 2)}B | ${num(r.tokens / TRAIN_SPLIT_TOKENS, 1)} | ${hours(hoursAt(r.tokens, r.perToken))} | ${hours(hoursAt(r.tokens, r.perToken, 8))} |`).join('\n')}`);

// %% [markdown]
// Two things stand out. Our `92m` saw less than half of its 20 tokens per parameter — which is why its
// validation loss was still falling — and even that took three passes over the corpus; the 20× rule would
// take twice as many for `92m` and dozens for the larger presets (the epochs column). Past this size the
// limit is **data**, not the GPU: the freely licensed Chinese text reachable here is 32M tokens (tiny-llm-zh
// trained on up to 42B), and repeating a corpus many times gains less each time. The hours for the wider
// presets, whose products use the GPU better, are likely on the high side. The 8-GPU column is what data
// parallelism would give at perfect scaling: `tinyllm train --gpus 8` runs one process per GPU and averages
// their gradients with NCCL (README, "The command line"), but it has only run on one GPU so far — how
// close to perfect it scales is not measured yet.
//
// ## Exercises
//
// In `exercises/14-full-size-run.ts`, implement `exponentialMovingAverage` (the bias-corrected EMA above) and
// `trainingHours` (hours from a measured tokens/s, or from FLOPs per token, MFU, peak and number of GPUs), then
// run `npm run check -- 14`.

// %%
import * as mine from './exercises/14-full-size-run.js';

try {
  const yours = mine.exponentialMovingAverage(sftLoss, 0.95);
  const worst = Math.max(...yours.map((v, i) => Math.abs(v - sftEma[i]!)));
  console.log(`your EMA of the SFT loss (β = 0.95): first values ${yours.slice(0, 3).map((v) => v.toFixed(3)).join(', ')}; largest difference from the notebook's: ${worst.toExponential(1)}`);
  const r210 = scaleRows[1]!;
  console.log(`your hours for 210m on ${num(r210.tokens / 1e9, 2)}B tokens at ${pct(mfu)} MFU: ${mine.trainingHours(r210.tokens, { flopsPerToken: r210.perToken, mfu, peakFlops: H100_BF16_PEAK }).toFixed(2)} (notebook: ${hoursAt(r210.tokens, r210.perToken).toFixed(2)})`);
  console.log(`your hours for this run at the median ${num(tokS)} tokens/s: ${mine.trainingHours(pretrainTokens, { tokensPerSecond: tokS }).toFixed(3)}`);
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
console.log(`notebook ran in ${((performance.now() - started) / 1000).toFixed(1)} s`);
