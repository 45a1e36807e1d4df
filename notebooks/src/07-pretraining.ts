// %% [markdown]
// # 07 · Pretraining
//
// Everything so far was a model that guesses uniformly. Pretraining makes it predict the next token of
// real text: show it windows of the corpus, measure the cross-entropy, follow the gradient. This notebook
// builds the pieces `tinyllm train` (and `npm run demo`) use:
//
// 1. **Data**: tokenize the corpus once into binary *token shards*, then cut them into packed windows.
// 2. **A training step by hand**: forward, loss, gradients, global-norm clipping, AdamW.
// 3. **The learning-rate schedule**: warmup, then a cosine decay.
// 4. **A short run** of `nano` with a live loss plot, and samples before and after.

// %%
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from './lib/backend/init.js';
import { BatchLoader, TokenStream } from './lib/data/loader.js';
import { prepareShards } from './lib/data/prepare.js';
import { splitTokens } from './lib/data/shards.js';
import { loadTokenizer } from './lib/tokenizer/files.js';
import { linePlot } from './lib/viz/plotly.js';
import { liveDisplay, showMarkdown, showPlotly } from './lib/viz/display.js';

const backend = await initBackend('auto');
const tokenizer = loadTokenizer('datasets/tokenizer');
const work = mkdtempSync(join(tmpdir(), 'pretraining-'));

// %% [markdown]
// ## 1. Token shards
//
// `prepareShards` (the library behind `tinyllm data prepare`) streams JSONL or text files, tokenizes each
// document, appends `<|endoftext|>` after it, sends 1% of documents to a validation split, and writes flat
// files of token ids — 2 bytes per token, since our 6,400 ids fit in a `uint16`. Training then reads ids
// straight from disk; it never tokenizes again. (The command line spreads the tokenizing over worker
// threads; here it runs on this thread, ~10 s for the whole shipped corpus.)

// %%
const shards = join(work, 'shards');
const index = await prepareShards({
  files: ['datasets/corpus/zh-modern.jsonl.gz', 'datasets/corpus/zh-classical.jsonl.gz', 'datasets/corpus/en.jsonl.gz'],
  tokenizer: tokenizer, out: shards, valFraction: 0.01,
});
showMarkdown(`| split | documents | tokens | files |
|---|---:|---:|---|
| train | ${index.documents.train} | ${splitTokens(index, 'train')} | ${index.train.map((f) => f.file).join(', ')} |
| val | ${index.documents.val} | ${splitTokens(index, 'val')} | ${index.val.map((f) => f.file).join(', ')} |

${index.dtype}, \`<|endoftext|>\` = ${index.eot}; sources: ${index.sources.map((s) => `${s.file} (${s.documents} docs, ${(s.bytes / 1e6).toFixed(1)} MB)`).join('; ')}`);

// %% [markdown]
// ## Packed windows
//
// The shards of a split are one long stream of ids. A training example is a window of T + 1 consecutive
// ids: the first T are the input, the last T (shifted by one) the targets — every position is a prediction.
// Windows run straight across document boundaries (the `<|endoftext|>` tells the model a new text starts),
// so nothing is wasted on padding. Each epoch visits every window once in an order fixed by the seed;
// where the loader stands is two numbers, which checkpoints save.

// %%
const stream = new TokenStream(shards, 'train');
const loader = new BatchLoader(stream, 4, 64, 0);
const sample = loader.next();
const show = (ids: Int32Array) => Array.from(ids.subarray(0, 12)).map((id) => tokenizer.idToString(id).replace(/\n/g, '⏎'));
showMarkdown(`${loader.windows} windows of 65 tokens; position after one batch: \`${JSON.stringify(loader.position)}\`

| | ${show(sample.inputs).map((_, i) => i).join(' | ')} |
|---|${show(sample.inputs).map(() => '---').join('|')}|
| input | ${show(sample.inputs).join(' | ')} |
| target | ${show(sample.targets).join(' | ')} |`);

// %% [markdown]
// ## 2. One training step by hand
//
// A step is: the mean next-token cross-entropy of the batch (`model.loss`), its gradient with respect to
// every parameter (`tf.variableGrads`), the gradients' global norm √(Σ g²) — if it exceeds 1 every
// gradient is scaled down by the same factor, so one bad batch cannot throw the weights far — and an
// AdamW update. Run on the same batch twice, the loss should go down.

// %%
import { presetConfig } from './lib/model/config.js';
import { LlamaModel } from './lib/model/model.js';
import { AdamW } from './lib/train/adamw.js';
import { clipScale, globalNorm } from './lib/train/clip.js';
import { batchTensors } from './lib/train/step.js';

const config = presetConfig('nano', { vocabSize: tokenizer.vocabSize });
const model = LlamaModel.create(config, 0);
const optimizer = new AdamW(model.params, { weightDecay: 0.1 });
const names = new Map([...model.params].map(([name, v]) => [v.name, name]));
const { inputs, targets } = batchTensors(sample, 4);

const lossesByHand: number[] = [];
for (let i = 0; i < 3; i++) {
  const { value, grads } = tf.variableGrads(() => model.loss(inputs, targets), model.variables());
  const norm = globalNorm(Object.values(grads));
  const scale = clipScale(norm, 1); // on the device: the update need not wait for the norm to be read
  optimizer.update(new Map(Object.entries(grads).map(([k, g]) => [names.get(k)!, g])), 1e-3, scale);
  lossesByHand.push(value.dataSync()[0]!);
  console.log(`update ${i + 1}: loss ${lossesByHand[i]!.toFixed(4)} (ln V = ${Math.log(config.vocabSize).toFixed(4)}), gradient norm ${norm.dataSync()[0]!.toFixed(3)}`);
  tf.dispose([value, norm, scale, ...Object.values(grads)]);
}
model.dispose();
optimizer.dispose();

// %% [markdown]
// `lib/train/step.ts` is this loop plus gradient accumulation (several micro-batches summed before one
// update, for batches larger than memory allows); AdamW in `lib/train/adamw.ts` keeps two running averages
// per parameter — m of the gradient, v of its square — and decays the weight matrices (not the norms, not
// the embedding) directly, which is what the W in AdamW means. In place of `tf.variableGrads` it calls
// `variableGradients` (`lib/train/backprop.ts`): the same gradients, but each op's gradients and saved
// tensors are freed as soon as its backward has run, instead of all at the end: at 92m (batch 32 × 1,024)
// that takes a step's peak on the GPU from 17.07 GB to 11.66 GB, as the cuda backend counts it
// (`bench/step-memory.ts` counts it without a GPU).
//
// ## 3. The learning-rate schedule
//
// Early on the weights are random and the gradients large and noisy: a full-size step then can diverge,
// so the rate warms up linearly. Afterwards it follows a cosine down to a floor (here a tenth), so the
// last steps refine instead of jumping around.

// %%
import { cosineLr } from './lib/train/schedule.js';

const schedule = { lr: 3e-3, warmup: 40, steps: 800, minLr: 3e-4 };
showPlotly(linePlot([{ name: 'lr', y: Array.from({ length: 840 }, (_, s) => cosineLr(s, schedule)) }], { title: 'warmup 40, cosine to step 800, floor lr/10', xTitle: 'step', yTitle: 'learning rate', height: 300 }));

// %% [markdown]
// ## 4. A short run
//
// `train()` (behind `tinyllm train`) puts it together: batches from the loader, the schedule, steps,
// validation every 100 steps, `metrics.jsonl`, checkpoints you can resume from exactly. The plot below
// updates while it runs. `nano` for 800 steps of 8 × 128 tokens on a 2-core CPU: about a minute and a
// half (the products run on OpenBLAS, the rest in SIMD WebAssembly: the backend line at the top says so).

// %%
import { generateText } from './lib/infer/sampling.js';
import { train } from './lib/train/loop.js';

const prompts = ['床前明月光，', '操作系统是', 'The computer'];
// The continuation only (sampled, seeded, up to the first <|endoftext|>), on one line.
const continueText = (m: LlamaModel) => prompts.map((p, i) => generateText(m, tokenizer, p, { maxNewTokens: 20, temperature: 0.7, topK: 20, repetitionPenalty: 1.2, seed: i }).replace(/\s+/g, ' ').replace(/\|/g, '\\|'));
const plot = liveDisplay();
const steps: number[] = [], losses: number[] = [], valSteps: number[] = [], valLosses: number[] = [];
let before: string[] = [];
const run = await train({
  // Only what differs from the defaults in lib/train/options.ts (batch 8, AdamW decay 0.1, clip 1, …);
  // `config: config` because tslab does not resolve a shorthand property from another cell.
  data: shards, out: join(work, 'run'), config: config, steps: schedule.steps, seq: 128,
  lr: schedule.lr, minLr: schedule.minLr, warmup: schedule.warmup, evalBatches: 2, saveEvery: 0,
}, {
  onStart: (m) => { before = continueText(m); },
  onStep: (m) => {
    steps.push(m.step);
    losses.push(m.loss);
    if (m.val_loss !== undefined) { valSteps.push(m.step); valLosses.push(m.val_loss); }
    if (m.step % 20 === 0) {
      showPlotly(linePlot([{ name: 'train', x: steps, y: losses }, { name: 'val', x: valSteps, y: valLosses }], { title: `step ${m.step} · ${m.tok_s} tokens/s`, xTitle: 'step', yTitle: 'loss', height: 320 }), plot);
    }
  },
});
const after = continueText(run.model);
showMarkdown(`validation loss ${run.initialValLoss!.toFixed(3)} → ${valLosses[valLosses.length - 1]!.toFixed(3)}

| prompt | continued before training | continued after |
|---|---|---|
${prompts.map((p, i) => `| ${p} | ${before[i]} | ${after[i]} |`).join('\n')}`);

// %% [markdown]
// After about a minute of training (800 steps, 820k tokens) the validation loss is near 6.1 and the
// corpus shows through: lines of classical-looking characters broken by `。`, the menu words of the
// software help pages (`设置`, `选择`), English of the presidential addresses with words in a plausible
// order (`the Government`, `Congress`) — its vocabulary and rhythm, not yet its sense. `npm run demo`
// trains three times as long (validation ≈ 5.1: whole phrases); `tinyllm train --preset 92m --backend
// cuda` is the real run on a GPU.
//
// ## Exercises
//
// Implement `cosineLr`, `clipByGlobalNorm` and `adamwStep` on plain numbers in
// `exercises/07-pretraining.ts`, then run `npm run check -- 07` (the AdamW test compares with
// `torch.optim.AdamW`).

// %%
import * as mine from './exercises/07-pretraining.js';

try {
  console.log('your lr at step 100:', mine.cosineLr(100, 3e-3, 20, 200, 3e-4), 'library:', cosineLr(100, schedule));
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
run.model.dispose();
stream.close();
rmSync(work, { recursive: true, force: true }); // the shards and the run: this notebook leaves nothing behind
