// %% [markdown]
// # 05 · The MLP: SwiGLU and mixtures of experts
//
// After attention mixes information *across* positions, the MLP transforms each position on its own. It
// holds most of a block's parameters. Llama uses **SwiGLU** (Shazeer, 2020): a gated linear unit with
// the SiLU activation,
//
// MLP(x) = W_down · (SiLU(W_gate x) ⊙ W_up x)
//
// A **mixture of experts** (MoE) replaces the one MLP with several, and a router sends each token to a
// few of them: more parameters for the same compute per token.

// %%
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './lib/backend/init.js';
import { showMarkdown, showPlotly, showVegaLite } from './lib/viz/display.js';
import { linePlot } from './lib/viz/plotly.js';

const backend = await initBackend('auto');

// %% [markdown]
// ## Activations
//
// GPT-2 used GELU; ReLU is the classic. SiLU(x) = x·σ(x) is smooth like GELU and, unlike ReLU, lets a
// little negative signal through and has non-zero gradient there.

// %%
const xs = Array.from({ length: 121 }, (_, i) => -6 + i * 0.1);
const xt = tf.tensor1d(xs);
const curve = (name: string, t: tf.Tensor) => ({ name, x: xs, y: Array.from(t.dataSync()) });
const gelu = tf.mul(tf.mul(xt, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(xt, tf.mul(0.044715, tf.pow(xt, 3)))))));
showPlotly(linePlot([curve('ReLU', tf.relu(xt)), curve('GELU', gelu), curve('SiLU', tf.mul(xt, tf.sigmoid(xt)))], { title: 'activations', xTitle: 'x', yTitle: 'f(x)' }));

// %% [markdown]
// ## Why a gate, and why F ≈ 8/3·D
//
// In SwiGLU the up projection's output is multiplied, channel by channel, by a SiLU-activated gate. The
// gate adds a third matrix, so to keep the parameter count of a classic 4·D MLP (two matrices of D×4D),
// Llama shrinks the inner width to about 8/3·D: 3·D·(8/3·D) = 8·D². Our 92m preset has D = 512 and
// F = 1408 ≈ 2.75·D.

// %%
import { Dense } from './lib/model/linear.js';
import { swiglu } from './lib/model/mlp.js';

const D = 512, F = 1408;
showMarkdown(`| MLP | matrices | parameters at D = ${D} |\n|---|---|---:|\n| classic GELU, 4·D | 2 × (D × 4D) | ${(8 * D * D / 1e6).toFixed(2)}M |\n| SwiGLU, F = ${F} | 3 × (D × F) | ${(3 * D * F / 1e6).toFixed(2)}M |`);
// Each projection is a `Linear` layer; `Dense` is the plain kind: one weight [out, in].
const w = { gate: new Dense(tf.randomNormal([F, D], 0, 0.02, 'float32', 1)), up: new Dense(tf.randomNormal([F, D], 0, 0.02, 'float32', 2)), down: new Dense(tf.randomNormal([D, F], 0, 0.02, 'float32', 3)) };
const out = swiglu(tf.randomNormal([4, D], 0, 1, 'float32', 4), w); // [T, D] -> [T, D]
console.log('SwiGLU maps', [4, D], '->', out.shape);

// %% [markdown]
// ## Mixture of experts
//
// A router (a linear map D → E) scores E experts per token; softmax turns scores into probabilities; the
// token goes to its top-k experts, weighted by their (renormalized) probabilities. minimind and
// DeepSeek-MoE add **shared experts** that every token uses. Here E = 8 experts, k = 2, 1 shared.

// %%
import { moe } from './lib/model/moe.js';

const E = 8, d = 64, ffn = 96, tokens = 512;
const expert = (seed: number) => ({
  gate: new Dense(tf.randomNormal([ffn, d], 0, 0.1, 'float32', seed)), up: new Dense(tf.randomNormal([ffn, d], 0, 0.1, 'float32', seed + 1)), down: new Dense(tf.randomNormal([d, ffn], 0, 0.1, 'float32', seed + 2)),
});
const experts = Array.from({ length: E }, (_, e) => expert(10 * e + 100));
const x = tf.randomNormal([tokens, d], 0, 1, 'float32', 5);
const moeConfig = { experts: E, topK: 2, sharedExperts: 1, auxLossAlpha: 0.01, normTopK: true };
// A router with one strongly favoured expert, and a near-uniform one.
const skewedRouter = tf.add(tf.randomNormal([E, d], 0, 0.05, 'float32', 6), tf.mul(tf.oneHot(tf.tensor1d([3], 'int32'), E).reshape([E, 1]), tf.fill([E, d], 0.3)));
const fairRouter = tf.randomNormal([E, d], 0, 0.05, 'float32', 7);
const loads = [['skewed router', skewedRouter], ['near-uniform router', fairRouter]].map(([name, router]) => {
  const result = moe(x, { router: new Dense(router as tf.Tensor), experts, shared: [expert(999)] }, moeConfig);
  return { name: name as string, load: Array.from(result.load.dataSync()), aux: result.auxLoss.dataSync()[0]! };
});
showVegaLite({
  data: { values: loads.flatMap((l) => l.load.map((n, e) => ({ router: `${l.name} (aux ${l.aux.toFixed(4)})`, expert: e, tokens: n }))) },
  mark: 'bar',
  encoding: { x: { field: 'expert', type: 'ordinal' }, y: { field: 'tokens', type: 'quantitative', title: 'routed tokens' }, color: { field: 'router' }, xOffset: { field: 'router' } },
  width: 380, height: 220,
});

// %% [markdown]
// ## The load-balancing loss
//
// Left alone, a router tends to collapse onto a few experts (they get more gradient, get better, get
// chosen more). The auxiliary loss α·E·Σₑ fₑ·Pₑ — fₑ the share of routing slots expert e received, Pₑ
// its mean router probability — is smallest (= α) when load is uniform; training adds it to the
// language-model loss. The skewed router above pays more.

// %%
for (const l of loads) console.log(`${l.name.padEnd(20)} aux loss ${l.aux.toFixed(5)} (α = ${moeConfig.auxLossAlpha}); max/mean load ${(Math.max(...l.load) / (tokens * 2 / E)).toFixed(2)}`);

// %% [markdown]
// Our `moe()` runs every expert on every token and zeroes the unchosen ones: exact and simple to
// differentiate, but E times the compute. Fast implementations gather each expert's tokens and run only
// those; the model definition stays the same.
//
// ## Exercises
//
// Implement `silu`, `swiglu`, `topKMask` and `loadBalancingLoss` in `exercises/05-mlp-moe.ts`, then run
// `npm run check -- 05`.

// %%
import * as mine from './exercises/05-mlp-moe.js';

try {
  mine.topKMask(tf.tensor2d([[0.1, 0.6, 0.3]]), 2).print();
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
