// %% [markdown]
// # 03 · RoPE: rotary position embeddings
//
// Attention compares every query with every key, and nothing in that comparison knows *where* the tokens
// are. GPT-2 added a learned position vector to each token. Llama instead **rotates** queries and keys
// by an angle proportional to their position (Su et al., 2021): RoPE.
//
// Split a head's Dh channels into Dh/2 pairs. Pair i of the vector at position p is rotated by the angle
// p · θ^(−2i/Dh) with θ = 10,000. Then the dot product of a query at position m and a key at position n
// depends only on m − n: attention sees **relative** positions, for free.

// %%
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './lib/backend/init.js';
import { applyRope, ropeFrequencies, ropeTables } from './lib/model/rope.js';
import { showPlotly } from './lib/viz/display.js';
import { heatmap, linePlot, scatterPlot } from './lib/viz/plotly.js';

await initBackend('auto');
const headDim = 32;
const freqs = ropeFrequencies(headDim, 10000);
console.log('frequencies (radians per position) of the', freqs.length, 'pairs:', Array.from(freqs, (f) => f.toPrecision(2)).join(' '));

// %% [markdown]
// ## A spectrum of clocks
//
// The first pair turns by one radian per position (a full turn every 6.3 tokens); the last turns so
// slowly it takes tens of thousands of tokens to go around. Fast pairs resolve nearby order; slow pairs
// tell far from near.

// %%
showPlotly(linePlot([{ name: 'frequency', y: Array.from(freqs) }, { name: 'wavelength (tokens)', y: Array.from(freqs, (f) => (2 * Math.PI) / f) }], {
  title: 'RoPE frequency per channel pair', xTitle: 'pair i', yTitle: 'radians per token / tokens per turn', logY: true,
}));

// %% [markdown]
// One pair, followed over positions 0…40: pair 0 spins round the circle, pair 4 crawls.

// %%
const unit = tf.tensor4d([...Array(headDim).fill(0)].map((_, i) => (i === 0 || i === 4 ? 1 : 0)), [1, 1, 1, headDim]);
const tables = ropeTables(headDim, 512, 10000);
const path = (pair: number) => {
  const pts = Array.from({ length: 41 }, (_, p) => applyRope(unit, tables, p).dataSync());
  // In the rotate-half layout, channel i pairs with channel i + Dh/2.
  return { name: `pair ${pair}`, x: pts.map((v) => v[pair]!), y: pts.map((v) => v[pair + headDim / 2]!), text: pts.map((_, p) => `p=${p}`) };
};
showPlotly(scatterPlot([path(0), path(4)], { title: 'a pair rotated by position', xTitle: 'channel i', yTitle: 'channel i + Dh/2', width: 460, height: 420 }));

// %% [markdown]
// ## Relative positions
//
// Take one query vector q and one key vector k, place them at positions m and n, rotate, and take q·k.
// The heatmap of q·k over (m, n) is constant along every diagonal: only m − n matters.

// %%
const q = tf.randomNormal([1, 1, 1, headDim], 0, 1, 'float32', 7);
const k = tf.randomNormal([1, 1, 1, headDim], 0, 1, 'float32', 8);
const N = 24;
const scores = tf.tidy(() => {
  const qs = tf.concat(Array.from({ length: N }, (_, m) => applyRope(q, tables, m)), 2); // [1, 1, N, Dh]
  const ks = tf.concat(Array.from({ length: N }, (_, n) => applyRope(k, tables, n)), 2);
  return tf.matMul(qs, ks, false, true).reshape([N, N]).arraySync() as number[][];
});
showPlotly(heatmap(scores, { title: 'q·k for query position m (rows) and key position n (columns)', xTitle: 'n', yTitle: 'm', colorscale: 'RdBu', height: 420 }));
console.log('q·k at (5, 2) =', scores[5]![2]!.toFixed(4), ' at (20, 17) =', scores[20]![17]!.toFixed(4), ' at (5, 4) =', scores[5]![4]!.toFixed(4));

// %% [markdown]
// That is the whole trick: rotations compose, R(m)ᵀR(n) = R(n − m), so (R(m)q)·(R(n)k) = q·R(n − m)k.
// Our implementation (`lib/model/rope.ts`) precomputes cos and sin tables for every position once and
// uses Hugging Face's *rotate-half* layout (pair i is channels i and i + Dh/2), so weights trained here
// load in `transformers` and the other way round.
//
// ## Exercises
//
// Implement `ropeFrequencies`, `rotate` and `dot` on plain arrays in `exercises/03-rope.ts`; the tests
// check your `rotate` against the library. Run `npm run check -- 03`.

// %%
import * as mine from './exercises/03-rope.js';

try {
  const v = Array.from(q.dataSync()), w = Array.from(k.dataSync());
  console.log('yours: q·k at (5, 2) =', mine.dot(mine.rotate(v, 5), mine.rotate(w, 2)).toFixed(4));
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
