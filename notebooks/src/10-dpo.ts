// %% [markdown]
// # 10 · DPO: learning from preferences
//
// SFT (notebook 08) shows the model good answers and nothing else. It never sees what a *bad* answer looks
// like, so nothing in its loss pushes down the ways a small model fails: a wrong fact in a fluent sentence, the
// same clause over and over, an answer cut short, a reply in the wrong language. **Preference data** shows
// both: a prompt, a *chosen* answer and a *rejected* one. RLHF (Ouyang et al., 2022) fits a reward model to
// such pairs and then optimises the policy against it with PPO; **DPO** (Rafailov et al., 2023, *Direct
// Preference Optimization*) gets the same optimum with one classification-like loss on the pairs, no reward
// model and no sampling. This notebook:
//
// 1. **Bradley–Terry**: how a difference of rewards becomes a probability of preferring one answer.
// 2. **From RLHF to DPO** in a few lines: the implicit reward β·log(π/ρ).
// 3. **The effect of β** on the loss and on its gradient.
// 4. **The data**: one pair of each kind from `datasets/dpo`.
// 5. **Masked sequence log-probabilities** of one batch, by hand and with `sequenceLogProbs`.
// 6. **DPO** of the shipped chat model on the CPU, with live loss and reward plots, then **before/after**.

// %%
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { initBackend } from './lib/backend/init.js';
import { linePlot } from './lib/viz/plotly.js';
import { liveDisplay, showMarkdown, showPlotly } from './lib/viz/display.js';

const backend = await initBackend('auto');
const work = mkdtempSync(join(tmpdir(), 'dpo-'));
const started = performance.now();

// %% [markdown]
// ## 1. Bradley–Terry: preferences from rewards
//
// Suppose every answer y to a prompt x has a hidden score, a *reward* r(x, y). The Bradley–Terry model (1952)
// says a person comparing two answers prefers a over b with probability
//
// P(a ≻ b) = e^{r(a)} / (e^{r(a)} + e^{r(b)}) = σ(r(a) − r(b)),  σ(z) = 1 / (1 + e^{−z})
//
// Only the difference counts: equal rewards are a coin toss, a difference of 2 already wins 88% of the time,
// and adding a constant to every reward changes nothing. Fitting r to pairs by maximum likelihood is logistic
// regression on the difference: minimise −log σ(r(chosen) − r(rejected)).

// %%
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const grid = (from: number, to: number, n: number) => Array.from({ length: n }, (_, i) => from + ((to - from) * i) / (n - 1));
const diffs = grid(-6, 6, 121);
showPlotly(linePlot([{ name: 'σ(r(a) − r(b))', x: diffs, y: diffs.map(sigmoid) }], {
  title: 'Bradley–Terry: the probability of preferring a over b', xTitle: 'reward difference r(a) − r(b)', yTitle: 'P(a ≻ b)', height: 300,
}));
console.log('P(a ≻ b) at differences 0, 1, 2, 4:', [0, 1, 2, 4].map((d) => sigmoid(d).toFixed(3)).join(', '));

// %% [markdown]
// ## 2. From RLHF to DPO
//
// RLHF looks for the policy π that earns a high reward without drifting far from the SFT model ρ (the
// *reference*), a KL penalty of weight β keeping it close:
//
// max_π  E_{x, y∼π}[ r(x, y) ] − β·KL( π(·|x) ‖ ρ(·|x) )
//
// This has a closed-form optimum: π*(y|x) = ρ(y|x)·exp(r(x, y)/β) / Z(x), with Z(x) the normaliser. Solved for
// the reward, r(x, y) = β·log(π*(y|x) / ρ(y|x)) + β·log Z(x): **every policy defines a reward**, β times its
// log-ratio against the reference — the *implicit reward*. Put that into Bradley–Terry: the reward only
// enters as a difference between two answers to the same prompt, so log Z(x) cancels, and the likelihood of
// the preferences becomes a loss on the policy itself:
//
// L = −log σ( β·[ (log π(y_c|x) − log ρ(y_c|x)) − (log π(y_r|x) − log ρ(y_r|x)) ] )
//
// Each log π(y|x) is the sum of the answer's token log-probabilities — the SFT mask, summed instead of
// averaged. ρ is frozen, so its sums are computed once. At the start π = ρ, every log-ratio is 0 and the loss
// is log 2 ≈ 0.693 for every pair. `lib/train/objectives/dpo.ts` reports TRL's metrics: **rewards/chosen**
// and **rewards/rejected** (mean β·log(π/ρ) of each), **rewards/margins** (their difference) and
// **rewards/accuracies** (the share of pairs whose chosen reward is the larger).

// %% [markdown]
// ## 3. The effect of β
//
// Write m for the log-ratio margin (πc − πr) − (ρc − ρr). The loss is −log σ(β·m); its derivative in m is
// −β·σ(−β·m): each pair's gradient is the usual gradient of its log-probabilities, scaled by **σ(−β·m)** —
// large while the model still ranks the pair wrongly (m < 0), fading once the chosen answer is ahead by a
// few 1/β. A small β lets the policy move far from the reference before a pair stops pushing; a large β
// stops it soon. IPO (Azar et al., 2023; `loss: 'ipo'`) replaces the log-sigmoid with (m − 1/(2β))² on
// per-token means: a target margin instead of "more is always a little better", so it cannot run off.

// %%
const margins = grid(-40, 40, 161);
const betas = [0.05, 0.1, 0.5, 1];
const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
showPlotly(linePlot(betas.map((beta) => ({ name: `β ${beta}`, x: margins, y: margins.map((m) => softplus(-beta * m)) })), {
  title: 'DPO loss −log σ(β·m)', xTitle: 'log-ratio margin m', yTitle: 'loss', height: 300,
}));
showPlotly(linePlot(betas.map((beta) => ({ name: `β ${beta}`, x: margins, y: margins.map((m) => sigmoid(-beta * m)) })), {
  title: 'gradient weight σ(−β·m) of a pair', xTitle: 'log-ratio margin m', yTitle: 'σ(−β·m)', height: 300,
}));

// %% [markdown]
// ## 4. The data
//
// `datasets/dpo` is made from the SFT set (`datasets/README.md`, dpo/): the chosen answer is the SFT answer,
// the rejected one is one of four failures — a **wrong** fact (another conversation's author, next line or
// command in the same template), a **repetition** of the first clause or of the last few characters, a
// **cut**-short answer, or an answer in the other **language**. The files are in minimind's format
// (`{"chosen": [messages], "rejected": [messages]}`); `readPreference` also reads TRL's. The kind is not
// stored, so we tell it from the answers, and show one validation pair of each.

// %%
import { readPreference, type PreferencePair } from './lib/data/preferences.js';

const readLines = (file: string) => gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter((l) => l !== '');
const trainLines = readLines('datasets/dpo/train.jsonl.gz'), valLines = readLines('datasets/dpo/val.jsonl.gz');
const valPairs = valLines.map((l) => readPreference(JSON.parse(l)));
const cjkShare = (s: string) => [...s].filter((c) => /\p{Script=Han}/u.test(c)).length / Math.max(1, [...s].length);
/** Which failure the rejected answer shows, from the two answers alone. */
function kindOf({ chosen, rejected }: PreferencePair): 'cut' | 'repetition' | 'language' | 'wrong' {
  if (rejected.length < chosen.length && chosen.startsWith(rejected)) return 'cut';
  if (/(.{2,}?)\1\1/su.test(rejected) && !/(.{2,}?)\1\1/su.test(chosen)) return 'repetition';
  if ((cjkShare(chosen) > 0.2) !== (cjkShare(rejected) > 0.2)) return 'language';
  return 'wrong';
}
const KINDS = ['wrong', 'repetition', 'cut', 'language'] as const;
const valKinds = valPairs.map(kindOf);
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, '⏎');
showMarkdown(`${trainLines.length.toLocaleString('en')} training pairs, ${valPairs.length} validation pairs; the validation pairs by kind: ${KINDS.map((k) => `${k} ${valKinds.filter((v) => v === k).length}`).join(', ')}

| kind | prompt | chosen | rejected |
|---|---|---|---|
${KINDS.map((k) => {
  const p = valPairs[valKinds.indexOf(k)]!;
  return `| ${k} | ${cell(p.prompt.map((m) => m.content).join(' / '))} | ${cell(p.chosen)} | ${cell(p.rejected)} |`;
}).join('\n')}`);

// %% [markdown]
// ## 5. Sequence log-probabilities, by hand
//
// `prepareDpo` stores each pair as two SFT examples — prompt + chosen, prompt + rejected — with SFT's mask (the
// answer and its `<|im_end|>`), and `DpoLoader` makes batches of n pairs as 2n rows: the n chosen answers
// first, then the n rejected ones in the same order, so one forward pass scores both. We write a slice: the
// pairs the run in section 6 will see (`TRAIN_PAIRS`), and part of the validation set (`VAL_PAIRS`).
//
// For a row, log π(y|x) = Σₜ wₜ·log p(targetₜ) — the weights are 1 on the answer's tokens, 0 on the prompt and
// the padding. `model.tokenLogProbs` gives the log p per position; add them up by hand and compare with
// `sequenceLogProbs`.

// %%
import { DpoLoader, prepareDpo } from './lib/data/preferences.js';
import { SftDataset } from './lib/data/sft.js';
import { loadModelDir } from './lib/io/model-dir.js';
import { sequenceLogProbs } from './lib/train/objectives/dpo.js';
import { batchTensors } from './lib/train/step.js';

const TRAIN_PAIRS = 320, VAL_PAIRS = 96, SEQ = 256;
writeFileSync(join(work, 'train.jsonl'), trainLines.slice(0, TRAIN_PAIRS).map((l) => `${l}\n`).join(''));
writeFileSync(join(work, 'val.jsonl'), valLines.slice(0, VAL_PAIRS).map((l) => `${l}\n`).join(''));
const { model: chatModel, tokenizer: chatTokenizer } = loadModelDir('datasets/models/chat');
const tokenizer = chatTokenizer!;
const dpoDir = join(work, 'dpo');
const index = await prepareDpo({ files: [join(work, 'train.jsonl')], valFiles: [join(work, 'val.jsonl')], tokenizer: tokenizer, out: dpoDir, seq: SEQ });
showMarkdown(`${TRAIN_PAIRS} + ${VAL_PAIRS} pairs → ${index.train.examples} training examples (two per pair; pairs too long for ${SEQ} tokens are skipped), ${index.val.examples} validation examples`);

const valSet = new SftDataset(dpoDir, 'val', 'tinyllm-dpo-1');
const PAIRS = 3;
// No reference yet: zeros (the loader only passes them along); in order, so batch 0 holds pairs 0, 1, 2.
const batch = new DpoLoader(valSet, PAIRS, SEQ, new Float32Array(valSet.length), 0, false).next();
const tensors = batchTensors(batch, 2 * PAIRS);
const T = tensors.inputs.shape[1];
const perToken = tf.tidy(() => chatModel.tokenLogProbs(tensors.inputs, tensors.targets).dataSync()); // [2n·T]
const byHand = Array.from({ length: 2 * PAIRS }, (_, b) => {
  let sum = 0, count = 0;
  for (let t = 0; t < T; t++) { sum += batch.weights![b * T + t]! * perToken[b * T + t]!; count += batch.weights![b * T + t]!; }
  return { sum, count };
});
const fromLib = tf.tidy(() => sequenceLogProbs(chatModel, tensors.inputs, tensors.targets, tensors.weights!).dataSync()); // [2n]
showMarkdown(`one batch: ${2 * PAIRS} rows × ${T} positions (chosen rows 0–${PAIRS - 1}, rejected rows ${PAIRS}–${2 * PAIRS - 1})

| pair | kind | log π(chosen): by hand | sequenceLogProbs | tokens | log π(rejected): by hand | sequenceLogProbs | tokens |
|---:|---|---:|---:|---:|---:|---:|---:|
${Array.from({ length: PAIRS }, (_, i) => {
  const c = byHand[i]!, r = byHand[PAIRS + i]!;
  return `| ${i} | ${valKinds[i]} | ${c.sum.toFixed(3)} | ${fromLib[i]!.toFixed(3)} | ${c.count} | ${r.sum.toFixed(3)} | ${fromLib[PAIRS + i]!.toFixed(3)} | ${r.count} |`;
}).join('\n')}

max |by hand − sequenceLogProbs|: **${byHand.reduce((m, { sum }, b) => Math.max(m, Math.abs(sum - fromLib[b]!)), 0).toExponential(1)}**`);
tf.dispose(Object.values(tensors));

// %% [markdown]
// Summed log-probabilities grow with the answer's length, so a long rejected answer (a repetition) can have a
// much lower log π than a short chosen one without the model preferring anything: DPO never compares raw
// sums, only each answer's sum against the reference's sum *for the same answer*, and the length cancels.
//
// Before training, the greedy answers of the shipped chat model to six validation questions — those of the
// first two pairs whose rejected answer is wrong, of the first two whose rejected answer repeats, and of the
// first cut and the first wrong-language one — to compare after DPO.

// %%
import { ChatSession } from './lib/infer/chat.js';
import type { LlamaModel } from './lib/model/model.js';

// The first two validation pairs whose rejected answer is wrong or repeats, the first cut one, the first in the other language.
const picks = KINDS.flatMap((k) => valKinds.map((v, i) => (v === k ? i : -1)).filter((i) => i >= 0 && i < VAL_PAIRS).slice(0, k === 'wrong' || k === 'repetition' ? 2 : 1));
const questions = picks.map((i) => valPairs[i]!.prompt[valPairs[i]!.prompt.length - 1]!.content);
/** Each question in a fresh session, greedy: the replies. */
const answers = (m: LlamaModel) => {
  const session = new ChatSession(m, tokenizer, { sampling: { temperature: 0 }, maxTokens: 80, seed: 0 });
  return questions.map((q) => { session.reset(); return session.reply(q).reply; });
};
const before = answers(chatModel);
chatModel.dispose();
questions.forEach((q, i) => console.log(`${q} → ${before[i]}`));

// %% [markdown]
// ## 6. DPO on the CPU
//
// `train()` sees a DPO data directory, loads `init` (the chat model), runs it once over every example of both
// splits for the reference log-probabilities (kept in the run's `reference-logps.safetensors`), and trains
// with `dpoObjective`. `batch` counts pairs: 8 pairs are 16 rows. One pass over our slice is 40 steps; the
// learning rate is twice DPO's default (`DPO_DEFAULTS`: 5e-5), since we take few steps; β 0.1 (TRL's
// default), no NLL term. Validation every 10 steps on the first 32 pairs keeps the run short; the full
// comparison on all of the slice's validation pairs follows.

// %%
import { train } from './lib/train/loop.js';

const dpo = { beta: 0.1, loss: 'sigmoid' as const, sftWeight: 0 };
const lossPlot = liveDisplay(), rewardPlot = liveDisplay();
const h = { steps: [] as number[], loss: [] as number[], acc: [] as number[], margin: [] as number[], valSteps: [] as number[], valLoss: [] as number[], valAcc: [] as number[], valMargin: [] as number[] };
const draw = (title: string) => {
  showPlotly(linePlot([{ name: 'train', x: h.steps, y: h.loss }, { name: 'val', x: h.valSteps, y: h.valLoss }], { title: title, xTitle: 'step', yTitle: 'DPO loss', height: 300 }), lossPlot);
  showPlotly(linePlot([
    { name: 'train accuracy', x: h.steps, y: h.acc }, { name: 'val accuracy', x: h.valSteps, y: h.valAcc },
    { name: 'train margin', x: h.steps, y: h.margin }, { name: 'val margin', x: h.valSteps, y: h.valMargin },
  ], { title: 'rewards/accuracies and rewards/margins', xTitle: 'step', height: 300 }), rewardPlot);
};
const trainStarted = performance.now();
const run = await train({
  // `dpo: dpo` and the like because tslab does not resolve a shorthand property from another cell.
  data: dpoDir, out: join(work, 'run'), init: 'datasets/models/chat', dpo: dpo,
  steps: 40, batch: 8, lr: 1e-4, evalEvery: 10, evalBatches: 4, saveEvery: 0,
}, {
  onStep: (m) => {
    h.steps.push(m.step); h.loss.push(m.loss); h.acc.push(m['rewards/accuracies']!); h.margin.push(m['rewards/margins']!);
    if (m.val_loss !== undefined) { h.valSteps.push(m.step); h.valLoss.push(m.val_loss); h.valAcc.push(m['val_rewards/accuracies']!); h.valMargin.push(m['val_rewards/margins']!); }
    if (m.step % 5 === 0) draw(`step ${m.step} · ${m.tok_s} tokens/s`);
  },
});
const trainSeconds = (performance.now() - trainStarted) / 1000;
draw(`${h.steps.length} steps in ${trainSeconds.toFixed(0)} s (with the reference pass)`);

// %% [markdown]
// ## Before and after
//
// On every validation pair of the slice: the **reward accuracy** (the aligned model's log-ratio against the
// reference higher for the chosen answer than for the rejected one) and the mean reward margin, and the
// plainer question — does the model give the chosen answer a higher log-probability than the rejected one?
// Before training, every log-ratio is 0 (up to rounding: the step-0 accuracy `train()` reports only counts
// float noise), so the reward accuracy has nothing to measure; the log-probabilities before are the
// reference's own sums, which `train()` saved; after, one pass of the aligned model.

// %%
import { readSafetensors } from './lib/io/safetensors.js';
import { SftLoader } from './lib/data/sft.js';
import { referenceLogProbs } from './lib/train/objectives/dpo.js';

const reference = readSafetensors(join(work, 'run', 'reference-logps.safetensors')).tensors.get('val')!.values; // [2·pairs], chosen 2i, rejected 2i + 1
const aligned = referenceLogProbs(run.model, new SftLoader(valSet, 16, SEQ, 0, false), valSet.length);
if (aligned.length !== 2 * VAL_PAIRS) throw new Error(`expected every one of the ${VAL_PAIRS} validation pairs to fit ${SEQ} tokens`);
const beta = dpo.beta;
const rows = Array.from({ length: VAL_PAIRS }, (_, i) => ({
  kind: valKinds[i]!,
  before: reference[2 * i]! > reference[2 * i + 1]!, // log ρ(chosen) > log ρ(rejected)
  after: aligned[2 * i]! > aligned[2 * i + 1]!, // log π(chosen) > log π(rejected)
  margin: beta * ((aligned[2 * i]! - reference[2 * i]!) - (aligned[2 * i + 1]! - reference[2 * i + 1]!)),
}));
const share = (xs: boolean[]) => (xs.length === 0 ? '–' : `${(100 * xs.filter(Boolean).length / xs.length).toFixed(0)}%`);
const summary = (label: string, rs: typeof rows) => `| ${label} | ${rs.length} | ${share(rs.map((r) => r.before))} | ${share(rs.map((r) => r.after))} | ${share(rs.map((r) => r.margin > 0))} | ${(rs.reduce((s, r) => s + r.margin, 0) / Math.max(1, rs.length)).toFixed(3)} |`;
const repeats = (s: string) => /(.{2,}?)\1\1/su.test(s);
const after = answers(run.model);
const initialAccuracy = run.initialValMetrics!['rewards/accuracies']!;
showMarkdown(`trained ${trainSeconds.toFixed(0)} s on ${backend}; validation DPO loss (first ${4 * 8} pairs) ${run.initialValLoss!.toFixed(3)} → ${h.valLoss[h.valLoss.length - 1]!.toFixed(3)}, rewards/accuracies ${initialAccuracy.toFixed(2)} (rounding noise) → ${h.valAcc[h.valAcc.length - 1]!.toFixed(2)}

| validation pairs | pairs | log p(chosen) > log p(rejected), start model | same, aligned model | reward accuracy (aligned) | mean reward margin |
|---|---:|---:|---:|---:|---:|
${summary('all', rows)}
${KINDS.map((k) => summary(k, rows.filter((r) => r.kind === k))).join('\n')}

| question | before (the shipped chat model) | after DPO | the chosen answer |
|---|---|---|---|
${questions.map((q, i) => `| ${cell(q)} | ${cell(before[i]!)}${repeats(before[i]!) ? ' **(repeats)**' : ''} | ${cell(after[i]!)}${repeats(after[i]!) ? ' **(repeats)**' : ''} | ${cell(valPairs[picks[i]!]!.chosen)} |`).join('\n')}`);

// %% [markdown]
// After one pass over 320 pairs (40 steps), the reward accuracy on the 96 held-out pairs is about 70% and the
// mean margin about 0.65 — but not evenly. Answers in the **other language** are all ranked right, with the
// largest margins, and **cut** and **repeated** answers about four in five: these failures are visible in
// the form of the answer, and a few hundred pairs teach the model to like them less. **Wrong facts** stay a
// coin toss (about 50%, margin ≈ 0): the two answers differ in a name or a line that a 2.7M-parameter model
// does not know, and no number of preference steps on other questions teaches it that fact.
//
// The plain comparison log p(chosen) > log p(rejected) barely moves (about 47% → 52%), and that is what the
// loss asks for: DPO raises each chosen answer's log-ratio *against the reference*, not its absolute
// probability. A cut answer is a prefix of the chosen one, so it almost always has the higher total
// log-probability (fewer tokens to pay for) before and after; what changed is that the chosen answer gained
// on it relative to where both started. The greedy answers change in places: the facts are still wrong
// (often differently wrong), and the looping answer to the last question (`…之广陵之广陵之中书之书之作…`) became
// a fluent, if wrong, sentence. Preference tuning of a model this small shapes *how* it answers more than
// *what* it knows; the whole `datasets/dpo` (5,000 pairs) on a GPU, or `sftWeight` (an NLL term on the
// chosen answers, against the likelihood of both drifting down), are the next things to try.
//
// On the command line: `tinyllm data prepare --format dpo` writes a DPO directory, `tinyllm dpo --model
// datasets/models/chat --data <dir> --out runs/dpo` trains (`--beta`, `--loss ipo`, `--sft-weight`, `--ref`),
// and `tinyllm chat --model runs/dpo/final` talks to the result.
//
// ## Exercises
//
// Implement `sequenceLogProbs` (the masked sum per row), `dpoLoss` (sigmoid and IPO) and `rewardMetrics`
// (TRL's rewards/chosen, rejected, accuracies, margins) on plain numbers in `exercises/10-dpo.ts`, then run
// `npm run check -- 10` (the tests compare with hand values and with TRL's formulas in PyTorch).

// %%
import * as mine from './exercises/10-dpo.js';

try {
  console.log('your sums of [[−1, −2, −3]] with weights [[0, 1, 1]]:', mine.sequenceLogProbs([[-1, -2, -3]], [[0, 1, 1]]), 'expected [ -5 ]');
  console.log('your loss at π = ρ:', mine.dpoLoss([-3, -5], [-3, -5], { beta: 0.1, loss: 'sigmoid' }), 'expected', Math.log(2));
  // The slice's sums as the exercises lay rows out: the chosen answers first, then the rejected.
  const pairLayout = (xs: Float32Array) => [...Array.from(xs).filter((_, j) => j % 2 === 0), ...Array.from(xs).filter((_, j) => j % 2 === 1)];
  const mineMetrics = mine.rewardMetrics(pairLayout(aligned), pairLayout(reference), beta);
  console.log('your validation reward accuracy:', mineMetrics.accuracy, 'notebook:', rows.filter((r) => r.margin > 0).length / rows.length);
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
valSet.close();
run.model.dispose();
rmSync(work, { recursive: true, force: true }); // the data and the run: this notebook leaves nothing behind
console.log(`notebook ran in ${((performance.now() - started) / 1000).toFixed(0)} s`);
