// %% [markdown]
// # 04 · Attention
//
// Attention is how a token reads the tokens before it. Each position emits a **query** ("what am I
// looking for?"), a **key** ("what do I hold?") and a **value** ("what do I pass on?"). A query's
// scores against all keys, softmaxed, weight the sum of the values:
//
// Attention(Q, K, V) = softmax(Q Kᵀ / √d + mask) V
//
// This notebook builds it up: scaled dot products, the causal mask, several heads, grouped key/value heads
// (GQA), and the KV cache that makes generation fast.

// %%
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './lib/backend/init.js';
import { loadTokenizer } from './lib/tokenizer/files.js';
import { showMarkdown, showPlotly } from './lib/viz/display.js';
import { heatmap } from './lib/viz/plotly.js';

await initBackend('auto');
const tokenizer = loadTokenizer('datasets/tokenizer');

// %% [markdown]
// ## Scaled dot-product attention by hand
//
// Four tokens, width d = 4. The √d keeps scores of order 1 whatever the width, so that softmax does not
// saturate.

// %%
const q = tf.tensor2d([[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 1, 1]]); // [T, d]
const k = tf.tensor2d([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]);
const v = tf.tensor2d([[1, 0], [0, 1], [1, 1], [-1, 0]]);
const scores = tf.div(tf.matMul(q, k, false, true), Math.sqrt(4)); // [T, T]
const weights = tf.softmax(scores, -1);
console.log('weights (rows: queries, columns: keys)');
weights.print();
console.log('output = weights · V');
tf.matMul(weights, v).print();

// %% [markdown]
// ## The causal mask
//
// A language model predicts the next token, so position i must not see positions after it. Adding −10⁹
// to those scores makes their softmax weight exactly 0. (We use −10⁹ rather than −∞: a fully masked row
// would give NaN with −∞.)

// %%
import { causalMask } from './lib/model/attention.js';

const T = 4;
const masked = tf.softmax(tf.add(scores, causalMask(T)), -1);
masked.print();

// %% [markdown]
// ## Attention weights of a real (if untrained) model
//
// The `nano` model below is freshly initialised, so its patterns are noise; notebook 07 trains it. The
// heatmap shows head 0 of layer 0 on a Chinese sentence: the lower triangle is the causal mask at work.

// %%
import { LlamaModel } from './lib/model/model.js';
import { presetConfig } from './lib/model/config.js';
import { linear } from './lib/model/linear.js';
import { rmsNorm } from './lib/model/rmsnorm.js';
import { applyRope, ropeTables } from './lib/model/rope.js';

const config = presetConfig('nano', { vocabSize: tokenizer.vocabSize });
const model = LlamaModel.create(config, 0);
const sentence = '床前明月光，疑是地上霜。举头望明月，低头思故乡。';
const ids = tokenizer.encode(sentence);
const labels = ids.map((id) => tokenizer.idToString(id).replace('\ufffd', '·'));
const Dh = config.hidden / config.heads;
const attn = tf.tidy(() => {
  const x = tf.gather(model.params.get('model.embed_tokens.weight')!, tf.tensor2d([ids], [1, ids.length], 'int32')); // [1, T, D]
  const h = rmsNorm(x, model.params.get('model.layers.0.input_layernorm.weight')!, config.normEps);
  const rope = ropeTables(Dh, config.maxSeq, config.ropeTheta);
  const heads = (w: string, n: number) => tf.transpose(tf.reshape(linear(h, model.params.get(w)!), [1, ids.length, n, Dh]), [0, 2, 1, 3]);
  const qh = applyRope(heads('model.layers.0.self_attn.q_proj.weight', config.heads), rope, 0);
  const kh = applyRope(heads('model.layers.0.self_attn.k_proj.weight', config.kvHeads), rope, 0);
  const s = tf.add(tf.div(tf.matMul(qh.slice([0, 0, 0, 0], [1, 1, -1, -1]), kh.slice([0, 0, 0, 0], [1, 1, -1, -1]), false, true), Math.sqrt(Dh)), causalMask(ids.length));
  return tf.softmax(s, -1).reshape([ids.length, ids.length]).arraySync() as number[][];
});
showPlotly(heatmap(attn, { xLabels: labels.map((l, i) => `${i}:${l}`), yLabels: labels.map((l, i) => `${i}:${l}`), title: 'layer 0, head 0 (untrained)', height: 480 }));

// %% [markdown]
// ## Many heads, fewer key/value heads
//
// **Multi-head attention** splits the width D into H heads of width Dh = D/H, each with its own
// queries, keys and values, so that different heads can look for different things; their outputs are
// concatenated and mixed by the output projection.
//
// **Grouped-query attention (GQA)** keeps H query heads but only K < H key/value heads; each K/V head
// serves H/K query heads. Quality barely changes, but the K/V projections shrink and — what matters at
// inference — so does the **KV cache**. Our `nano` has 4 query heads and 2 K/V heads.

// %%
const rows = [['MHA (H = K = 16)', 16, 16], ['GQA (minimind: 16 / 8)', 16, 8], ['GQA (16 / 4)', 16, 4], ['MQA (16 / 1)', 16, 1]].map(([name, H, K]) => {
  const D = 512, dh = D / (H as number);
  const kvParams = 2 * D * (K as number) * dh;
  const cachePerToken = 2 * (K as number) * dh * 8 /* layers */ * 4 /* bytes */;
  return `| ${name} | ${(kvParams / 1e3).toFixed(0)}k | ${(cachePerToken / 1024).toFixed(0)} KiB | ${((cachePerToken * 1024) / 2 ** 20).toFixed(0)} MiB |`;
});
showMarkdown(`Hidden 512, 8 layers, float32:\n\n| attention | K,V parameters per layer | KV cache per token | cache for 1,024 tokens |\n|---|---:|---:|---:|\n${rows.join('\n')}`);

// %% [markdown]
// ## The KV cache
//
// Generating token t+1 needs the keys and values of all earlier tokens — which were already computed
// when those tokens were generated. The KV cache keeps them, so each new step runs the model on **one**
// token instead of the whole prefix. `lib`'s cache is allocated once at its full size — per layer a
// [sequences, kv heads, capacity, Dh] tensor for keys and one for values — and each step writes its
// keys and values into their slots in place, so no step copies what the earlier ones stored. The
// logits are identical:

// %%
const prompt = tokenizer.encode('床前明月光，');
const full = tf.tidy(() => model.forward(tf.tensor2d([prompt], [1, prompt.length], 'int32')).logits.slice([0, prompt.length - 1, 0], [1, 1, -1]).dataSync());
const cache = model.newCache();
tf.tidy(() => {
  model.forward(tf.tensor2d([prompt.slice(0, -1)], [1, prompt.length - 1], 'int32'), { cache }); // fills the cache
});
const incremental = tf.tidy(() => model.forward(tf.tensor2d([prompt.slice(-1)], [1, 1], 'int32'), { cache }).logits.dataSync());
console.log('max |full − cached| over the last position\'s logits:', Math.max(...Array.from(full, (x, i) => Math.abs(x - incremental[i]!))));
cache.dispose();

// %% [markdown]
// And it is faster, the more so the longer the sequence. Without a cache, the step that predicts the
// token after position t runs the model on all t positions; with it, on one (plus attention reading t
// cached keys and values). Below, one such step timed at several t (the median of 5 runs each):

// %%
import type { KvCache } from './lib/model/kv-cache.js';

function timeIt(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// The greedy next id after `ids`; with a cache, `ids` are only the positions it does not hold yet.
const nextId = (ids: number[], kv?: KvCache) => tf.tidy(() =>
  model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'), { cache: kv }).logits.slice([0, ids.length - 1, 0], [1, 1, -1]).argMax(-1).dataSync()[0]!);

const stepTimes = [16, 64, 128, config.maxSeq].map((t) => {
  const ids = Array.from({ length: t }, (_, i) => prompt[i % prompt.length]!); // any t ids do for timing
  const recompute: number[] = [], cached: number[] = [];
  for (let run = 0; run < 5; run++) {
    recompute.push(timeIt(() => nextId(ids)));
    const kv = model.newCache();
    nextId(ids.slice(0, -1), kv); // what the earlier steps left in the cache (not timed)
    cached.push(timeIt(() => nextId(ids.slice(-1), kv)));
    kv.dispose();
  }
  return { t, recompute: median(recompute), cached: median(cached) };
});
showMarkdown(`| position t | recompute all t positions | one position with the KV cache | speed-up |\n|---:|---:|---:|---:|\n${stepTimes.map(({ t, recompute, cached }) => `| ${t} | ${recompute.toFixed(1)} ms | ${cached.toFixed(1)} ms | ${(recompute / cached).toFixed(1)}× |`).join('\n')}`);

// %% [markdown]
// At short lengths the cache hardly helps: a model this small spends a step mostly on the fixed cost of
// each of its many small ops, not on arithmetic, and the cache only saves arithmetic. As t grows, the
// recomputing step grows with it while the cached step stays nearly flat, so the speed-up climbs.
// Generating N tokens adds up such steps: about N²/2 positions recomputed against N cached ones.

// %% [markdown]
// ## Exercises
//
// Implement `causalMask`, `scaledDotProductAttention` and `repeatKv` in `exercises/04-attention.ts`, then
// run `npm run check -- 04`.

// %%
import * as mine from './exercises/04-attention.js';

try {
  mine.scaledDotProductAttention(q, k, v, mine.causalMask(4)).print();
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
