// %% [markdown]
// # 13 · Inference: sampling, the KV cache, streaming, and a server
//
// A trained model gives one thing: a probability for every token of the vocabulary, given the text so far.
// Everything a chat product does with it is inference code around that distribution — how to pick from it,
// how to avoid recomputing the past for every new token, how to show text as it comes, and how to share
// one model between many users. This notebook:
//
// 1. looks at a real next-token distribution of the chat model, and what **temperature**, **top-k**,
//    **top-p** and **min-p** do to it;
// 2. measures the **KV cache** — keys and values of earlier positions kept, so each new token costs one
//    position instead of the whole sequence;
// 3. **streams** a reply into the notebook as it is sampled, never half a character, with a stop string;
// 4. starts `tinyllm serve`'s **OpenAI-compatible server** inside the notebook and calls it with `fetch`,
//    plain and streamed, and reads log-probabilities from it.

// %%
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './lib/backend/init.js';
import { Decoder, defaultStopIds } from './lib/infer/sampling.js';
import { loadModelDir } from './lib/io/model-dir.js';
import { applyChatTemplate, renderChat } from './lib/tokenizer/chat.js';
import { liveDisplay, showMarkdown, showPlotly } from './lib/viz/display.js';
import { linePlot, plotlyFigure } from './lib/viz/plotly.js';

const backend = await initBackend('auto');
const started = performance.now();
const { model, tokenizer: loadedTokenizer } = loadModelDir('datasets/models/chat');
const tokenizer = loadedTokenizer!;
const promptFor = (question: string) => applyChatTemplate(tokenizer, [{ role: 'user', content: question }], { addGenerationPrompt: true }).ids;
console.log(`backend ${backend}; chat model: ${model.parameterCount.toLocaleString('en-US')} parameters, context ${model.config.maxSeq}, vocabulary ${tokenizer.vocabSize}`);

// %% [markdown]
// ## 1. One next-token distribution, four ways to pick from it
//
// We ask the chat model for a poem and look at its distribution over the first token of the reply. The
// logits zₜ become probabilities by softmax(z / T): **temperature** T < 1 sharpens the distribution towards
// the most likely tokens, T > 1 flattens it, T → 0 is greedy decoding (always the argmax).

// %%
const question = '写一首关于月亮的诗。';
const logits = tf.tidy(() => {
  const ids = promptFor(question);
  return Array.from(model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits.slice([0, ids.length - 1, 0], [1, 1, -1]).dataSync());
});
/** softmax(z / T) in float64. */
const softmax = (z: number[], T: number) => {
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp((v - max) / T));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
};
const byProbability = softmax(logits, 1).map((p, id) => ({ id, p })).sort((a, b) => b.p - a.p);
const top = byProbability.slice(0, 15);
const label = (id: number) => JSON.stringify(tokenizer.decode([id]));
showPlotly(plotlyFigure([0.5, 1, 1.5].map((T) => {
  const p = softmax(logits, T);
  return { type: 'bar', name: `T = ${T}`, x: top.map((t) => label(t.id)), y: top.map((t) => p[t.id]!) };
}), { title: `The 15 most likely first tokens of the reply to “${question}”`, yTitle: 'probability' }));
/** exp(entropy): how many equally likely tokens the distribution is worth. */
const perplexityOf = (p: number[]) => Math.exp(-p.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0));
console.log([0.5, 1, 1.5].map((T) => `T = ${T}: worth ${perplexityOf(softmax(logits, T)).toFixed(1)} equally likely tokens`).join('\n'));

// %% [markdown]
// Sampling at T = 1 from the full distribution lets the long tail in: thousands of tokens with tiny
// probabilities that add up to a real chance of nonsense. Three filters cut the tail before sampling:
//
// - **top-k** keeps the k most likely tokens;
// - **top-p** (nucleus sampling) keeps the fewest most likely tokens whose probabilities sum to p — few when
//   the model is sure, many when it is not;
// - **min-p** keeps the tokens at least p times as likely as the best one, a threshold that also scales with
//   the model's confidence.
//
// `sampleToken` in `lib/infer/sampling.ts` applies them in Hugging Face's order: the penalties, temperature,
// top-k, top-p, min-p. Below, how many tokens survive each filter here.

// %%
const cumulative: number[] = [];
byProbability.reduce((sum, t) => { cumulative.push(sum + t.p); return sum + t.p; }, 0);
const nucleus = (p: number) => cumulative.findIndex((c) => c >= p) + 1;
const ps = [0.5, 0.7, 0.8, 0.9, 0.95, 0.99];
showPlotly(linePlot([{ name: 'tokens kept', x: ps, y: ps.map(nucleus) }], { title: 'Top-p: the nucleus grows fast near p = 1', xTitle: 'p', yTitle: 'tokens kept', logY: true, height: 300 }));
showMarkdown(`| filter | tokens kept (of ${tokenizer.vocabSize}) |\n|---|---:|\n${[
  ...ps.map((p) => `| top-p ${p} | ${nucleus(p)} |`),
  ...[0.05, 0.1, 0.2].map((m) => `| min-p ${m} | ${byProbability.filter((t) => t.p >= m * byProbability[0]!.p).length} |`),
  '| top-k 40 | 40 |',
].join('\n')}`);

// %% [markdown]
// What that does to whole replies: the same question three times at each temperature (top-p 0.9), with
// seeds so that the notebook shows the same text every run.

// %%
import { generateText } from './lib/infer/sampling.js';

const samples: string[] = [];
for (const T of [0.3, 0.8, 1.3]) {
  for (const seed of [1, 2, 3]) {
    const text = generateText(model, tokenizer, renderChat([{ role: 'user', content: question }], { addGenerationPrompt: true }), { temperature: T, topP: 0.9, maxNewTokens: 40, seed });
    samples.push(`| ${T} | ${seed} | ${text.replace(/\n/g, ' ⏎ ')} |`);
  }
}
showMarkdown(`| temperature | seed | reply (40 tokens at most) |\n|---:|---:|---|\n${samples.join('\n')}`);

// %% [markdown]
// ## 2. The KV cache
//
// Attention at position t needs the keys and values of every earlier position. Without a cache, generating
// token t+1 runs the whole sequence of t tokens through the model again; with one, each layer keeps its keys
// and values ([batch, kv heads, positions, head width]) and the model runs only the new token, attending over
// what is kept. Generating n tokens then costs O(n) positions instead of O(n²). `Decoder` in `lib/infer`
// does this; below, the same greedy generation both ways, timed at growing lengths — and checked to give
// the same tokens.

// %%
/** Greedy generation of n tokens by re-running the whole sequence each step (no cache). */
function greedyWithoutCache(prompt: number[], n: number): number[] {
  const ids = [...prompt];
  for (let i = 0; i < n; i++) {
    const next = tf.tidy(() => {
      const all = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits;
      return all.slice([0, ids.length - 1, 0], [1, 1, -1]).argMax(-1).dataSync()[0]!;
    });
    ids.push(next);
  }
  return ids.slice(prompt.length);
}
/** The same with the cache, ignoring <|im_end|> so that both run n tokens. */
const greedyWithCache = (prompt: number[], n: number) => {
  const decoder = new Decoder(model, prompt, { temperature: 0, maxNewTokens: n });
  while (!decoder.done) decoder.step();
  return decoder.ids;
};
const kvPrompt = promptFor('请介绍一下长城。');
const lengths = [32, 64, 128, 256];
const rates = { cache: [] as number[], none: [] as number[] };
for (const n of lengths) {
  for (const [name, run] of [['cache', greedyWithCache], ['none', greedyWithoutCache]] as const) {
    const t0 = performance.now();
    const ids = run(kvPrompt, n);
    rates[name].push(n / ((performance.now() - t0) / 1000));
    if (name === 'none' && ids.join() !== greedyWithCache(kvPrompt, n).join()) throw new Error(`the cached and uncached generations differ at n = ${n}`);
  }
}
showPlotly(linePlot([
  { name: 'with the KV cache', x: lengths, y: rates.cache },
  { name: 'without (re-run every position)', x: lengths, y: rates.none },
], { title: 'Greedy decoding speed by number of tokens generated', xTitle: 'tokens generated', yTitle: 'tokens/s', height: 320 }));
console.log(lengths.map((n, i) => `${n} tokens: ${rates.cache[i]!.toFixed(0)} vs ${rates.none[i]!.toFixed(0)} tokens/s (${(rates.cache[i]! / rates.none[i]!).toFixed(1)}×), the same tokens`).join('\n'));

// %% [markdown]
// Without the cache the speed falls as the sequence grows (each step does more); with it the speed stays
// nearly flat — only the attention over the kept positions grows. The cost is memory: 2 × layers × kv heads
// × head width floats per position (here 2·6·6·20 = 1,440, 5.6 KB in float32), which is why grouped-query
// attention (fewer kv heads) matters for long contexts. `lib` allocates the cache once at its full size
// (`lib/model/kv-cache.ts`): each step writes its keys and values into their slots in place, and one
// kernel attends each new query over its row's slots up to its own position.
//
// **On a GPU the step itself is the problem.** One decoding step of a small model is a few hundred tiny
// kernels, and tfjs dispatches each from JavaScript in a few microseconds — far longer than the GPU needs
// to run it. So on `cuda` the step is recorded once as a **CUDA graph** (`lib/infer/decode-step.ts`) and
// replayed with one launch per token: everything that changes between steps (the new ids, each row's
// position) is read by the kernels from small input tensors refilled in place, and a greedy step even
// picks the next id on the GPU, so only the ids come back. Prompts that start together are prefilled
// together, in one forward pass. Measured on an H100 (`bench/README.md`), the `92m` shape at vocabulary
// 6,400, prompts of 32 and 128 new tokens (over 32 streams: end to end, prefill included):
//
// | | tokens/s at batch 1 | over 32 streams |
// |---|---:|---:|
// | op by op, every kernel dispatched by tfjs | 251 | 433 |
// | the same kernels replayed from a CUDA graph | 2,117 | 36,443 |
// | Hugging Face `generate` (bf16, eager PyTorch) | 23 | 729 |
//
// ## 3. Streaming, a character at a time
//
// A byte-level BPE token can end in the middle of a UTF-8 character (most Chinese characters are three
// bytes), so streaming the decoded text of each token would show broken characters. `TextGeneration`
// (`lib/infer/text-generation.ts`) wraps a `Decoder`: each step returns only complete characters, and text
// that could be the start of a **stop string** is held back until it is clear whether the stop string
// follows. Below a reply streams into the cell, stopped at the first `。`.

// %%
import { TextGeneration } from './lib/infer/text-generation.js';

const live = liveDisplay();
const generation = new TextGeneration(new Decoder(model, promptFor('你是谁？'), { temperature: 0, maxNewTokens: 80, stopIds: defaultStopIds(tokenizer) }), tokenizer, ['。']);
const pieces: string[] = [];
while (!generation.done) {
  const piece = generation.step();
  pieces.push(piece);
  live.text(generation.text + ' ▌');
}
live.text(generation.text);
console.log(`${pieces.length} steps, ${pieces.filter((p) => p === '').length} of them showed nothing yet (an unfinished character or a possible stop); finish: ${generation.sequence.finishReason}`);

// %% [markdown]
// ## 4. An OpenAI-compatible server
//
// `tinyllm serve --model <dir>` puts a model behind the same HTTP API as OpenAI's, so that the official
// clients (`openai` on npm and PyPI), chat UIs and evaluation harnesses work with it unchanged. Here we
// start the same server inside the notebook, on a free port of 127.0.0.1, and call it with plain `fetch`.

// %%
import type { AddressInfo } from 'node:net';
import { SERVE_DEFAULTS } from './lib/serve/options.js';
import { createApiServer } from './lib/serve/server.js';

const server = createApiServer(model, tokenizer, { ...SERVE_DEFAULTS, modelName: 'chat' });
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const post = (path: string, body: object) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
console.log(`listening on ${base}; /v1/models says:`, JSON.stringify(await (await fetch(`${base}/v1/models`)).json()));
const reply = (await (await post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: '你是谁？' }], temperature: 0, max_tokens: 40 })).json()) as {
  choices: { message: { content: string }; finish_reason: string }[]; usage: Record<string, number>;
};
console.log('reply:', reply.choices[0]!.message.content);
console.log('finish_reason:', reply.choices[0]!.finish_reason, '· usage:', JSON.stringify(reply.usage));

// %% [markdown]
// With `"stream": true` the answer comes as **server-sent events**: a `text/event-stream` of `data: {…}`
// lines, each followed by a blank line, each a `chat.completion.chunk` with a small `delta` — the role
// first, then pieces of content, then the `finish_reason`, and finally `data: [DONE]`. Here are the raw
// events as they arrive, then the text they add up to.

// %%
const streamed = await post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: '你是谁？' }], temperature: 0, max_tokens: 12, stream: true });
const raw = await streamed.text();
console.log(raw.split('\n\n').slice(0, 3).join('\n\n'));
console.log(`… ${raw.split('\n\n').filter((e) => e !== '').length} events in all, the last: ${raw.trim().split('\n\n').at(-1)}`);
const events = raw.split('\n\n').filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]').map((e) => JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] });
console.log('the deltas add up to:', events.map((e) => e.choices[0]?.delta.content ?? '').join(''));

// %% [markdown]
// `/v1/completions` with `echo` and `logprobs` returns the log-probability of every token of a text — how
// evaluation harnesses (lm-evaluation-harness's `local-completions`) score multiple-choice answers through
// a server. The surprise of each token of a line of Li Bai, in bits (a token that ends inside a character
// shows as �: its bytes alone are not text):

// %%
const scored = (await (await post('/v1/completions', { model: 'chat', prompt: '床前明月光，疑是地上霜。', max_tokens: 0, echo: true, logprobs: 1 })).json()) as {
  choices: { logprobs: { tokens: string[]; token_logprobs: (number | null)[]; top_logprobs: (Record<string, number> | null)[] } }[];
};
const lp = scored.choices[0]!.logprobs;
showMarkdown(`| token | surprise (bits) | the model's first choice there |\n|---|---:|---|\n${lp.tokens.map((t, i) => {
  const best = lp.top_logprobs[i] ? Object.keys(lp.top_logprobs[i]!)[0]! : '';
  return `| ${t} | ${lp.token_logprobs[i] === null ? '—' : (-lp.token_logprobs[i]! / Math.LN2).toFixed(2)} | ${best} |`;
}).join('\n')}`);
await new Promise((ok) => server.close(ok));

// %% [markdown]
// From the command line the server also serves a chat page at `/` (markdown rendering, streaming, a Stop
// button, sampling settings):
//
// ```bash
// npx tinyllm serve --model datasets/models/chat            # then open http://127.0.0.1:8000/
// npx tinyllm serve --model runs/chat-q4 --api-key secret    # a quantized model, with a key
// ```
//
// ```ts
// import OpenAI from 'openai';
// const client = new OpenAI({ baseURL: 'http://127.0.0.1:8000/v1', apiKey: 'secret' });
// const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: '你好' }], stream: true });
// for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? '');
// ```
//
// ## Exercises
//
// In `exercises/13-inference.ts`, implement `filterTopKTopP` (top-k then top-p, renormalised),
// `repetitionPenalty` (Hugging Face's rule), `parseSse` (the data of each server-sent event, by the
// specification) and `readChatStream` (the text, finish reason and `[DONE]` of an OpenAI chat stream), then
// run `npm run check -- 13`: the tests compare them with `lib/infer` and with this server's own streams.

// %%
import * as mine from './exercises/13-inference.js';

try {
  const probs = softmax(logits, 1);
  const kept = mine.filterTopKTopP(probs, 40, 0.9);
  console.log(`your filter keeps ${kept.filter((p) => p > 0).length} tokens at top-k 40, top-p 0.9 (the nucleus alone: ${nucleus(0.9)})`);
  console.log('your stream reader on the stream above:', mine.readChatStream(raw));
} catch (e) {
  console.log((e as Error).message.split(' — ')[0]);
}
model.dispose();
console.log(`notebook ran in ${((performance.now() - started) / 1000).toFixed(0)} s`);
