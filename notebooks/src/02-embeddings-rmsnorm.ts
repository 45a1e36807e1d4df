// %% [markdown]
// # 02 · Embeddings and RMSNorm
//
// The model's first step turns token ids into vectors; every block then starts by normalizing its input.
// This notebook covers both: the **embedding table** (a lookup that is secretly a matrix product) and
// **RMSNorm**, the normalization Llama uses instead of LayerNorm.
//
// Shapes in comments follow the course convention: `B` batch, `T` sequence, `D` model width, `V`
// vocabulary.

// %%
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './lib/backend/init.js';
import { loadTokenizer } from './lib/tokenizer/files.js';
import { showMarkdown, showPlotly } from './lib/viz/display.js';
import { linePlot, heatmap } from './lib/viz/plotly.js';

await initBackend('auto');
const tokenizer = loadTokenizer('datasets/tokenizer');

// %% [markdown]
// ## Embeddings: one row per token
//
// An embedding table has one learned vector per token id: `[V, D]`. Embedding a sequence is just
// picking rows. With our 6,400-token vocabulary and the `nano` width D = 128:

// %%
const V = tokenizer.vocabSize, D = 128;
const table = tf.randomNormal([V, D], 0, 0.02, 'float32', 0); // [V, D], initialised like the model's
const ids = tokenizer.encode('今天天气很好');
const x = tf.gather(table, tf.tensor1d(ids, 'int32')); // [T, D]
console.log('ids', ids, '->', x.shape);

// %% [markdown]
// Picking row `i` is the same as multiplying a one-hot vector (1 at `i`, 0 elsewhere) by the table. That
// is why the gradient of an embedding is a sparse update: only the rows of the ids that occurred change.
// (Exercise 02 asks you to write the one-hot version.)

// %%
const viaOneHot = tf.matMul(tf.oneHot(tf.tensor1d(ids, 'int32'), V), table); // [T, V] · [V, D]
console.log('max |gather − one-hot·table| =', tf.max(tf.abs(tf.sub(x, viaOneHot))).dataSync()[0]);
const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, tf.tensor1d(ids, 'int32'))))(table);
const touched = tf.sum(tf.cast(tf.notEqual(tf.sum(tf.abs(grad), 1), 0), 'int32')).dataSync()[0];
console.log(`rows with a non-zero gradient: ${touched} of ${V} (the distinct ids: ${new Set(ids).size})`);

// %% [markdown]
// Learned embeddings end up placing related tokens near each other. Ours are random until notebook 07
// trains them, so cosine similarities are all near 0:

// %%
function cosine(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(a, b)), tf.mul(tf.norm(a), tf.norm(b))).dataSync()[0]!);
}
const words = ['天', '气', '我们', '你们', 'the', ' the'];
const rows = words.map((w) => tf.gather(table, tokenizer.encode(w, { specials: 'plain' }).slice(0, 1)));
showPlotly(heatmap(rows.map((a) => rows.map((b) => cosine(a, b))), { xLabels: words, yLabels: words, title: 'cosine similarity of random embeddings', height: 320 }));

// %% [markdown]
// ## Why normalize?
//
// Each block adds its output to the **residual stream** `h`. As blocks pile up, the scale of `h` drifts;
// a layer's weights would have to cope with any scale. Normalizing the input of each sub-layer keeps the
// numbers it sees at a fixed size.
//
// **LayerNorm** subtracts the mean and divides by the standard deviation, then applies a learned gain and
// bias. **RMSNorm** (Zhang & Sennrich, 2019) drops the mean and the bias: divide by the root mean square,
// multiply by a learned gain. It is cheaper and works as well, so Llama, Qwen and minimind use it:
//
// RMSNorm(x) = x / √(mean(x²) + ε) · g

// %%
import { rmsNorm } from './lib/model/rmsnorm.js';

const h = tf.tensor2d([[0.5, -1, 2, 0.1], [50, -100, 200, 10], [1, 1, 1, 1]]); // three vectors of different scale
const normed = rmsNorm(h, tf.ones([4]), 1e-5);
const rms = (t: tf.Tensor) => Array.from(tf.sqrt(tf.mean(tf.square(t), 1)).dataSync(), (v) => v.toFixed(3));
console.log('rms before', rms(h), '\nrms after ', rms(normed));
normed.print();

// %% [markdown]
// The first two rows differ only in scale and normalize to the same vector. The third shows the
// difference from LayerNorm: a constant vector keeps its direction under RMSNorm, while LayerNorm would
// map it to zero (its mean is all there is).
//
// ## RMSNorm over a residual stream
//
// Here is the residual stream of a random 12-block network where each block adds a random linear map of
// its normalized input. Without the norm, the blocks see inputs of ever-growing scale; with it, every
// block sees unit RMS.

// %%
let stream = tf.randomNormal([16, D], 0, 1, 'float32', 1); // [T, D]
const blockInputRms: number[] = [], streamRms: number[] = [];
for (let layer = 0; layer < 12; layer++) {
  const w = tf.randomNormal([D, D], 0, 1 / Math.sqrt(D) * 1.5, 'float32', 100 + layer);
  const input = rmsNorm(stream, tf.ones([D]), 1e-5);
  blockInputRms.push(tf.sqrt(tf.mean(tf.square(input))).dataSync()[0]!);
  streamRms.push(tf.sqrt(tf.mean(tf.square(stream))).dataSync()[0]!);
  stream = tf.add(stream, tf.matMul(input, w));
}
showPlotly(linePlot([{ name: 'residual stream', y: streamRms }, { name: 'normalized block input', y: blockInputRms }], {
  title: 'RMS by depth', xTitle: 'block', yTitle: 'root mean square',
}));

// %% [markdown]
// The stream grows with depth (that is fine: it is a sum), while every block reads a unit-scale input.
// This pre-norm arrangement is why deep Llama-style models train stably without careful tuning.
//
// ## Exercises
//
// Implement `embedByMatmul`, `rmsNorm` and `layerNorm` in `exercises/02-embeddings-rmsnorm.ts`, then run
// `npm run check -- 02`.

// %%
import * as mine from './exercises/02-embeddings-rmsnorm.js';

try {
  const mineNormed = mine.rmsNorm(h, tf.ones([4]) as tf.Tensor1D, 1e-5);
  showMarkdown(`your rmsNorm matches the library: **${tf.max(tf.abs(tf.sub(mineNormed, normed))).dataSync()[0]! < 1e-5}**`);
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
