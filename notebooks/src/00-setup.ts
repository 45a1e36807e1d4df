// %% [markdown]
// # 00 · Setup: tensors, backends and charts
//
// **tiny-llm-ts** builds a small Chinese/English chat model end to end, in TypeScript:
//
// | stage | notebook | what you build |
// |---|---|---|
// | tokenizer | 01 | byte-level BPE, trained on our own corpus |
// | the model | 02–06 | embeddings, RMSNorm, RoPE, attention, SwiGLU/MoE, the Llama-style decoder |
// | pretraining | 07 | the data pipeline and the training loop |
// | fine-tuning and alignment | later | SFT, LoRA, DPO |
// | evaluation, quantization, serving | later | C-Eval-style tests, int8/int4, an OpenAI-compatible server |
//
// Every notebook runs on a laptop CPU in a few minutes and ends with exercises. The same code in `lib/`
// trains the full 92M-parameter model on a GPU from the command line.
//
// This notebook checks that everything works: **tensors and ops** in TensorFlow.js, **backends** (and a
// matmul race between them), **charts** (plotly and Vega-Lite) and **markdown** output.
//
// The kernel runs in the project root, so the library is `./lib/...` and data is `datasets/...`.

// %%
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from './lib/backend/init.js';

await initBackend('auto');
console.log('tfjs', tf.version.tfjs, '· node', process.version);

// %% [markdown]
// ## Tensors
//
// A tensor is an n-dimensional array with a **shape** and a **dtype** (`float32`, `int32` or `bool` in
// tfjs). Ops make new tensors; tensors are immutable.

// %%
const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]); // [2, 3]
const w = tf.randomNormal([3, 4], 0, 1, 'float32', 42); // [3, 4], seeded
const y = tf.matMul(x, w); // [2, 4]
console.log('x', x.shape, x.dtype, '· w', w.shape, '· y = x·w', y.shape);
y.print();

// %% [markdown]
// **Broadcasting** stretches size-1 (or missing) leading dimensions, as in NumPy and PyTorch: adding a
// `[4]` bias to a `[2, 4]` matrix adds it to every row.

// %%
const bias = tf.tensor1d([10, 20, 30, 40]); // [4]
tf.add(y, bias).print();
console.log('row sums', Array.from(tf.sum(x, 1).dataSync()), '· column means', Array.from(tf.mean(x, 0).dataSync()));

// %% [markdown]
// ## Gradients
//
// `tf.grad(f)` returns a function computing df/dx. For f(x) = Σ x², the gradient is 2x. Training is
// nothing more than this, at scale: a loss, its gradient w.r.t. every parameter, and a step downhill.

// %%
const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.square(v)));
grad(tf.tensor1d([1, -2, 3])).print();

// %% [markdown]
// ## Memory
//
// tfjs tensors hold memory (on the GPU backend: GPU memory) until disposed. `tf.tidy` disposes every
// intermediate made inside it and keeps only what it returns. The library runs each step inside `tidy`;
// tests check that `tf.memory().numTensors` does not grow.

// %%
const before = tf.memory().numTensors;
const kept = tf.tidy(() => tf.mean(tf.square(tf.sub(tf.randomUniform([1000]), 0.5))));
console.log('tensors made and kept:', tf.memory().numTensors - before, '· mean square:', kept.dataSync()[0]!.toFixed(4));
kept.dispose();

// %% [markdown]
// ## Backends
//
// The same ops run on different **backends**: `cpu` (plain JavaScript), `wasm` (WebAssembly with SIMD)
// and, on an NVIDIA GPU, our own `cuda` backend. On the CPU, `wasm` hands its matrix products to
// OpenBLAS when one is installed (`lib/backend/wasm/blas.ts`: the library NumPy uses, its kernels written
// for this processor's vector units, on every core) — `initBackend('wasm', { blas: false })` switches
// that off. `initBackend('auto')` picked the fastest one here. Let us time a square matmul of growing
// size on each. A matmul of n×n by n×n costs 2n³ floating point operations (a multiply and an add per term).

// %%
async function timeMatmul(n: number, repeats = 3): Promise<number> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  tf.tidy(() => tf.matMul(a, b)).dispose(); // warm-up: first calls compile/allocate
  const start = performance.now();
  for (let i = 0; i < repeats; i++) {
    const c = tf.matMul(a, b);
    await c.data(); // wait for the result: some backends run asynchronously
    c.dispose();
  }
  const ms = (performance.now() - start) / repeats;
  tf.dispose([a, b]);
  return ms;
}

const sizes = [32, 64, 128, 256, 384];
const timings: { backend: string; n: number; ms: number; gflops: number }[] = [];
const setups = { cpu: ['cpu', true], wasm: ['wasm', false], 'wasm + BLAS': ['wasm', true] } as const;
for (const [backend, [name, blas]] of Object.entries(setups)) {
  await initBackend(name, { quiet: true, blas });
  if (blas && name === 'wasm' && !describeBackend().includes('products on')) continue; // no BLAS installed
  for (const n of sizes) {
    const ms = await timeMatmul(n);
    timings.push({ backend, n, ms, gflops: (2 * n ** 3) / (ms * 1e6) });
  }
}
await initBackend('auto', { quiet: true });
console.log('back on', describeBackend());
console.table(timings.map((t) => ({ ...t, ms: +t.ms.toFixed(2), gflops: +t.gflops.toFixed(2) })));

// %% [markdown]
// ## Charts
//
// `lib/viz` builds charts as plain data and shows them inline. **Plotly** for lines, scatters and heatmaps:

// %%
import { linePlot } from './lib/viz/plotly.js';
import { showMarkdown, showPlotly, showVegaLite } from './lib/viz/display.js';

showPlotly(
  linePlot(
    Object.keys(setups).map((backend) => {
      const rows = timings.filter((t) => t.backend === backend);
      return { name: backend, x: rows.map((t) => t.n), y: rows.map((t) => t.gflops) };
    }),
    { title: 'matmul throughput', xTitle: 'n (n×n · n×n)', yTitle: 'GFLOP/s', logY: true },
  ),
);

// %% [markdown]
// **Vega-Lite** for anything declarative: here the time per matmul, grouped by size.

// %%
showVegaLite({
  data: { values: timings },
  mark: 'bar',
  encoding: {
    x: { field: 'n', type: 'ordinal', title: 'n' },
    xOffset: { field: 'backend' },
    y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'ms per matmul' },
    color: { field: 'backend' },
  },
  width: 360,
  height: 220,
});

// %% [markdown]
// **Markdown** (rendered by markdown-it) for reports, tables and, later, the model's chat replies:

// %%
const largest = sizes[sizes.length - 1]!;
const at = (backend: string) => timings.find((t) => t.backend === backend && t.n === largest);
const measured = Object.keys(setups).filter((b) => at(b));
const fastest = measured[measured.length - 1]!;
showMarkdown(`### Matmul ${largest}×${largest}

| backend | ms | GFLOP/s |
|---|---:|---:|
${measured.map((b) => `| \`${b}\` | ${at(b)!.ms.toFixed(1)} | ${at(b)!.gflops.toFixed(2)} |`).join('\n')}

\`${fastest}\` is **${(at('cpu')!.ms / at(fastest)!.ms).toFixed(0)}×** faster than cpu at this size.`);

// %% [markdown]
// ## Why softmax needs care
//
// A language model turns scores (*logits*) into probabilities with softmax: pᵢ = exp(xᵢ) / Σⱼ exp(xⱼ).
// In float32, `exp(89)` is already infinite, and logits of a few hundred are common early in training:

// %%
const logits = tf.tensor1d([1000, 1001, 1002]);
const naive = tf.div(tf.exp(logits), tf.sum(tf.exp(logits)));
console.log('exp(logits)      ', Array.from(tf.exp(logits).dataSync()));
console.log('naive softmax    ', Array.from(naive.dataSync()));
console.log('tf.softmax       ', Array.from(tf.softmax(logits).dataSync()));

// %% [markdown]
// The fix uses softmax(x) = softmax(x − c) for any constant c: with c = max(x), every exponent is ≤ 0,
// so nothing overflows and the largest term is exactly 1. The same trick gives a stable
// **log-sum-exp**, log Σ exp(xᵢ) = m + log Σ exp(xᵢ − m), the heart of the cross-entropy loss.
//
// ## Exercises
//
// Open `exercises/00-setup.ts` and implement, with tfjs ops:
//
// 1. `logSumExp(x, axis)` — stable for large inputs;
// 2. `softmax(x, axis)` — stable, same shape as `x`;
// 3. `logSoftmax(x, axis)` — as `x − logSumExp(x)`, finite even where softmax underflows to 0.
//
// Check your work from a terminal with `npm run check -- 00`. The cell below tries your functions
// (edit and re-run it after you change the file: restart the kernel to reload it).

// %%
import * as mine from './exercises/00-setup.js';

for (const [name, fn] of Object.entries({ logSumExp: mine.logSumExp, softmax: mine.softmax, logSoftmax: mine.logSoftmax })) {
  try {
    console.log(name.padEnd(10), Array.from(fn(logits).dataSync()));
  } catch (e) {
    console.log(name.padEnd(10), (e as Error).message.split(' — ')[0]);
  }
}
