// %% [markdown]
// # 06 · The model
//
// Time to assemble the pieces of notebooks 02–05 into a Llama-style decoder:
//
// ```
// ids [B, T] → embedding [B, T, D]
//   → L × block:  h = h + Attention(RMSNorm(h));  h = h + MLP(RMSNorm(h))
//   → RMSNorm → LM head [B, T, V] (logits for the next token)
// ```
//
// `lib/model/model.ts` is that loop, about 60 lines. Parameters use Hugging Face's names and layout, so a
// model directory we save loads in `transformers` (a test checks logits and gradients against PyTorch).

// %%
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend, parseBackendName } from './lib/backend/init.js';
import { countParameters, PRESETS, presetConfig } from './lib/model/config.js';
import { LlamaModel } from './lib/model/model.js';
import { loadTokenizer } from './lib/tokenizer/files.js';
import { showMarkdown, showVegaLite } from './lib/viz/display.js';

const backend = await initBackend('auto');
const tokenizer = loadTokenizer('datasets/tokenizer');

// %% [markdown]
// ## The presets
//
// Our presets follow tiny-llm-zh's table, plus minimind's shapes and a `nano` model for notebooks and CI.
// With our 6,400-token vocabulary (and, for comparison, ChatGLM3's 64,798 that tiny-llm-zh uses):

// %%
const table = Object.keys(PRESETS).map((name) => {
  const c = presetConfig(name);
  const ours = countParameters(c);
  const big = countParameters({ ...c, vocabSize: 64798 });
  return { name, c, ours, big };
});
showMarkdown(`| preset | D | F | layers | heads (K/V) | params @ 6,400 | embedding share | params @ 64,798 | embedding share |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
${table.map(({ name, c, ours, big }) => `| ${name} | ${c.hidden} | ${c.ffn} | ${c.layers} | ${c.heads}/${c.kvHeads}${c.moe ? ` · ${c.moe.experts} experts` : ''}${c.tieEmbeddings ? ' · tied' : ''} | ${(ours.total / 1e6).toFixed(2)}M | ${((100 * ours.embedding) / ours.total).toFixed(0)}% | ${(big.total / 1e6).toFixed(2)}M | ${((100 * big.embedding) / big.total).toFixed(0)}% |`).join('\n')}`);
showVegaLite({
  data: { values: table.filter((t) => !t.name.startsWith('minimind')).flatMap(({ name, ours }) => [{ preset: name, part: 'embedding + head', M: ours.embedding / 1e6 }, { preset: name, part: 'blocks', M: ours.nonEmbedding / 1e6 }]) },
  mark: 'bar',
  encoding: { x: { field: 'preset', type: 'ordinal', sort: null }, y: { field: 'M', type: 'quantitative', title: 'parameters (millions), vocab 6,400', scale: { type: 'sqrt' } }, color: { field: 'part' } },
  width: 360, height: 220,
});

// %% [markdown]
// The `92m` preset has 92.05M parameters at vocabulary 64,798 — exactly tiny-llm-zh's figure — of which
// 72% are the embedding and LM head. With our tokenizer the same blocks make a 32M model.
//
// ## A forward pass
//
// `nano` (4 layers, D = 128, 4 query heads sharing 2 K/V heads) with our vocabulary. At initialisation
// the logits are nearly uniform, so the loss should be close to ln V — a good first sanity check for any
// training run.

// %%
const config = presetConfig('nano', { vocabSize: tokenizer.vocabSize });
const model = LlamaModel.create(config, 0);
console.log(`nano: ${(model.parameterCount / 1e6).toFixed(2)}M parameters (countParameters: ${(countParameters(config).total / 1e6).toFixed(2)}M)`);
const text = '床前明月光，疑是地上霜。举头望明月，低头思故乡。Call me Ishmael. Some years ago—never mind how long precisely';
const ids = tokenizer.encode(text);
const inputs = tf.tensor2d([ids.slice(0, -1)], [1, ids.length - 1], 'int32'); // [1, T]
const targets = tf.tensor2d([ids.slice(1)], [1, ids.length - 1], 'int32'); // [1, T], shifted by one
const loss = model.loss(inputs, targets);
console.log(`loss ${loss.dataSync()[0]!.toFixed(4)} vs ln V = ${Math.log(config.vocabSize).toFixed(4)}`);

// %% [markdown]
// ## Forward and backward, timed
//
// Training needs the gradient of the loss with respect to every parameter: `tf.variableGrads` runs the
// forward pass, records it, and runs it backwards. A batch of 4 × 64 tokens of `nano`, on both CPU
// backends (plain JavaScript `cpu` is the slow one):

// %%
const batch = tf.randomUniform([4, 65], 0, config.vocabSize, 'int32', 1);
const x = batch.slice([0, 0], [4, 64]) as tf.Tensor2D;
const y = batch.slice([0, 1], [4, 64]) as tf.Tensor2D;
for (const name of ['cpu', 'wasm'] as const) {
  await initBackend(name, { quiet: true });
  const step = () => {
    const { value, grads } = tf.variableGrads(() => model.loss(x, y), model.variables());
    const norm = Math.sqrt(Object.values(grads).reduce((s, g) => s + tf.sum(tf.square(g)).dataSync()[0]!, 0));
    tf.dispose([value, ...Object.values(grads)]);
    return norm;
  };
  step(); // warm-up
  const start = performance.now();
  const norm = step();
  console.log(`${describeBackend().padEnd(24)} forward + backward of 256 tokens: ${((performance.now() - start) / 1000).toFixed(2)} s (gradient norm ${norm.toFixed(3)})`);
}
await initBackend(parseBackendName(backend), { quiet: true });
console.log('back on', describeBackend());

// %% [markdown]
// ## Sampling from the untrained model
//
// With random weights the model's "language" is noise: every token is about equally likely. Notebook 07
// trains it; this is the before picture.

// %%
import { generate } from './lib/infer/sampling.js';

const prompt = tokenizer.encode('床前明月光，');
for (const temperature of [0, 1]) {
  const out = generate(model, prompt, { maxNewTokens: 24, temperature, seed: 3 });
  console.log(`temperature ${temperature}: ${tokenizer.decode([...prompt, ...out])}`);
}

// %% [markdown]
// ## Saving and scoring
//
// A model directory is `config.json` + `model.safetensors` + the tokenizer files. `tinyllm score` shows
// how surprised a model is by each token of a text (from a terminal:
// `npx tinyllm score --model <dir> --text '床前明月光'`); the same function is available here. The cell
// below saves `nano` into a temporary directory, loads it back, and removes the directory again.

// %%
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelDir, saveModelDir } from './lib/io/model-dir.js';
import { scoreIds } from './lib/eval/logprobs.js';

const saved = mkdtempSync(join(tmpdir(), 'nano-'));
saveModelDir(model, saved, { tokenizer: tokenizer }); // (tslab: no shorthand for earlier cells' variables)
const formatSize = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${Math.round(bytes / 1024).toLocaleString('en')} KiB`);
const files = readdirSync(saved).map((f) => `\`${f}\` ${formatSize(statSync(join(saved, f)).size)}`);
const reloaded = loadModelDir(saved);
rmSync(saved, { recursive: true, force: true }); // loaded into memory: the directory is no longer needed
const scored = scoreIds(reloaded.model, tokenizer.encode('床前明月光'));
showMarkdown(`saved and reloaded: ${files.join(', ')}\n\n| token | log p |\n|---|---:|\n${tokenizer.encode('床前明月光').map((id, i) => `| ${tokenizer.idToString(id)} | ${i === 0 ? '—' : scored[i]!.toFixed(2)} |`).join('\n')}\n\nAll near ln(1/${config.vocabSize}) = ${Math.log(1 / config.vocabSize).toFixed(2)}: nothing learned yet.`);

// %% [markdown]
// ## Exercises
//
// Implement `countParameters`, `crossEntropy` and `perplexity` in `exercises/06-model.ts`, then run
// `npm run check -- 06`.

// %%
import * as mine from './exercises/06-model.js';

try {
  console.log('your count for nano:', mine.countParameters(config), 'library:', countParameters(config).total);
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
