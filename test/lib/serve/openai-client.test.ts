// tinyllm's server driven by the official `openai` npm client on 127.0.0.1, with the shipped chat model:
// plain and streamed chat (the same greedy text), usage, stop strings, completions with log-probabilities
// as lm-evaluation-harness asks for them, /v1/models, the error classes the client raises, the API key,
// and a load test of 50 concurrent streams with bad requests mixed in.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import * as tf from '@tensorflow/tfjs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { scoreIds } from '../../../lib/eval/logprobs.js';
import { generate } from '../../../lib/infer/sampling.js';
import { loadModelDir } from '../../../lib/io/model-dir.js';
import type { LlamaModel } from '../../../lib/model/model.js';
import { SERVE_DEFAULTS } from '../../../lib/serve/options.js';
import { createApiServer } from '../../../lib/serve/server.js';
import { applyChatTemplate } from '../../../lib/tokenizer/chat.js';
import { TextStream } from '../../../lib/tokenizer/text-stream.js';
import type { Tokenizer } from '../../../lib/tokenizer/tokenizer.js';

const KEY = 'test-key';
let model: LlamaModel, tokenizer: Tokenizer, server: Server, base: string, client: OpenAI;

/** Our own greedy reply to one user message, as the server should give it. */
function greedyReply(content: string, maxTokens: number): { text: string; tokens: number; promptTokens: number } {
  const prompt = applyChatTemplate(tokenizer, [{ role: 'user', content }], { addGenerationPrompt: true }).ids;
  const ids = generate(model, prompt, { temperature: 0, maxNewTokens: maxTokens, stopIds: [tokenizer.specialId('<|im_end|>'), tokenizer.specialId('<|endoftext|>')] });
  const stream = new TextStream(tokenizer); // a reply cut by max_tokens drops its unfinished last character
  return { text: stream.push(ids) + stream.end(), tokens: ids.length, promptTokens: prompt.length };
}

/** The text of a streamed chat completion, and its chunks. */
async function streamed(content: string, extra: Record<string, unknown> = {}) {
  const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content }], temperature: 0, max_tokens: 24, stream: true, ...extra } as OpenAI.ChatCompletionCreateParamsStreaming);
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return { text: chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), chunks };
}

describe('tinyllm serve with the openai client', () => {
  beforeAll(async () => {
    await initBackend('wasm', { quiet: true });
    ({ model, tokenizer } = loadModelDir('datasets/models/chat') as { model: LlamaModel; tokenizer: Tokenizer });
    server = createApiServer(model, tokenizer, { ...SERVE_DEFAULTS, modelName: 'chat', apiKey: KEY, maxBodyBytes: 64 * 1024 });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY, maxRetries: 0 });
  });

  afterAll(async () => {
    await new Promise((ok) => server.close(ok));
    model.dispose();
  });

  it('lists the model', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => [m.id, m.object, m.owned_by])).toEqual([['chat', 'model', 'tiny-llm-ts']]);
  });

  it('answers greedily as generate() does, with usage; streamed, the same text in chunks of one id', async () => {
    const want = greedyReply('你是谁？', 24);
    const reply = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: '你是谁？' }], temperature: 0, max_tokens: 24 });
    expect(reply.object).toBe('chat.completion');
    expect(reply.choices[0]!.message).toMatchObject({ role: 'assistant', content: want.text });
    expect(reply.choices[0]!.finish_reason).toBe(want.tokens < 24 ? 'stop' : 'length');
    expect(reply.usage).toEqual({ prompt_tokens: want.promptTokens, completion_tokens: want.tokens, total_tokens: want.promptTokens + want.tokens });

    const { text, chunks } = await streamed('你是谁？', { stream_options: { include_usage: true } });
    expect(text).toBe(want.text);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'chat' && c.created === chunks[0]!.created)).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe(reply.choices[0]!.finish_reason);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toEqual(reply.usage);
  });

  it('ends at a stop string, which is not returned, with finish_reason stop; also when streamed', async () => {
    const full = greedyReply('你是谁？', 24).text;
    const stop = full.slice(4, 6); // two characters from inside the reply
    const reply = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: '你是谁？' }], temperature: 0, max_tokens: 24, stop: [stop] });
    expect(reply.choices[0]!.message.content).toBe(full.slice(0, full.indexOf(stop)));
    expect(reply.choices[0]!.finish_reason).toBe('stop');
    const { text, chunks } = await streamed('你是谁？', { stop });
    expect(text).toBe(full.slice(0, full.indexOf(stop)));
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('completions: echo with logprobs gives each prompt token\'s log-probability (lm-evaluation-harness\'s request)', async () => {
    const prompt = '床前明月光，疑是地上霜。';
    const completion = await client.completions.create({ model: 'chat', prompt, max_tokens: 0, echo: true, logprobs: 1, temperature: 0 });
    const choice = completion.choices[0]!;
    expect(choice.text).toBe(prompt);
    const ids = tokenizer.encode(prompt);
    const want = scoreIds(model, ids);
    expect(choice.logprobs!.tokens).toEqual(ids.map((id) => tokenizer.decode([id])));
    choice.logprobs!.token_logprobs!.forEach((lp, t) => (t === 0 ? expect(lp).toBeNull() : expect(lp!).toBeCloseTo(want[t]!, 4)));
    expect(choice.logprobs!.top_logprobs!.slice(1).every((top) => Object.keys(top!).length === 1)).toBe(true);
    // Generated tokens: the greedy continuation, each its top-1 token (a stop token ends the text and is not listed).
    const more = await client.completions.create({ model: 'chat', prompt, max_tokens: 6, logprobs: 2, temperature: 0 });
    const lp = more.choices[0]!.logprobs!;
    expect(lp.tokens!.join('')).toBe(more.choices[0]!.text);
    lp.top_logprobs!.forEach((top, t) => expect(Math.max(...Object.values(top!))).toBeCloseTo(lp.token_logprobs![t]!, 9));
    const stopped = more.choices[0]!.finish_reason === 'stop';
    expect(more.usage).toMatchObject({ prompt_tokens: ids.length, completion_tokens: lp.tokens!.length + (stopped ? 1 : 0) });
    if (!stopped) expect(lp.tokens).toHaveLength(6);
  });

  it('raises the client\'s error classes: a bad field (named), n > 1, a wrong key, a missing endpoint', async () => {
    const bad = client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], temperature: 5 });
    await expect(bad).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(bad).rejects.toMatchObject({ status: 400, param: 'temperature', message: expect.stringContaining('temperature: 5, expected a number in [0, 2]') });
    await expect(client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], n: 2 })).rejects.toMatchObject({ status: 400, param: 'n' });
    const wrongKey = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'nope', maxRetries: 0 });
    await expect(wrongKey.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client.embeddings.create({ model: 'chat', input: 'hi' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('answers malformed JSON with 400 and an oversized body with 413, as {"error": {…}}', async () => {
    const post = (body: string) => fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body });
    const malformed = await post('{"messages": [');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { message: string } }).error.message).toMatch(/^the request body is not valid JSON/);
    const huge = await post(JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(100_000) }] }));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'request_too_large' } });
  });

  it('a client that disconnects mid-stream cancels its generation and frees its cache', async () => {
    const tensors = tf.memory().numTensors;
    const health = async () => (await (await fetch(`${base}/health`)).json()) as { running: number; waiting: number; tokens_generated: number };
    const before = (await health()).tokens_generated;
    // ignore_eos (vLLM's): 400 tokens unless cancelled.
    const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: '请介绍一下长城。' }], max_tokens: 400, stream: true, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsStreaming);
    let chunks = 0;
    for await (const _ of stream) if (++chunks === 3) break; // leaving the loop aborts the request
    for (let i = 0; i < 200 && (await health()).running > 0; i++) await new Promise((r) => setTimeout(r, 10));
    const after = await health();
    expect(after).toMatchObject({ status: 'ok', running: 0, waiting: 0 });
    expect(after.tokens_generated - before).toBeLessThan(100);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('load: 50 concurrent streams all end with [DONE] and the right text, none starves; bad requests in between change nothing', async () => {
    const questions = ['你是谁？', '请介绍一下长城。', '写一首关于春天的短诗。', '什么是 Debian？', 'LibreOffice 是什么？'];
    const want = questions.map((q) => greedyReply(q, 12).text);
    const memoryBefore = tf.memory().numTensors;
    const started = performance.now();
    const raw = async (i: number) => {
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST', headers: { authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: questions[i % questions.length] }], temperature: 0, max_tokens: 12, stream: true }),
      });
      const body = await res.text();
      const finished = performance.now() - started;
      const events = body.split('\n\n').filter((e) => e !== '');
      const text = events.slice(0, -1).map((e) => (JSON.parse(e.slice(6)) as OpenAI.ChatCompletionChunk).choices[0]?.delta.content ?? '').join('');
      return { i, text, done: events.at(-1) === 'data: [DONE]', finished };
    };
    const badOnes = Array.from({ length: 10 }, (_, j) => fetch(`${base}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: j % 2 ? '{bad json' : JSON.stringify({ messages: [{ role: 'user', content: 'y'.repeat(70_000) }] }),
    }).then((r) => r.status));
    const [results, statuses] = await Promise.all([Promise.all(Array.from({ length: 50 }, (_, i) => raw(i))), Promise.all(badOnes)]);
    expect(statuses.sort()).toEqual([...new Array(5).fill(400), ...new Array(5).fill(413)]);
    for (const r of results) {
      expect(r.done, `stream ${r.i}`).toBe(true);
      expect(r.text, `stream ${r.i}`).toBe(want[r.i % questions.length]);
    }
    const times = results.map((r) => r.finished).sort((a, b) => a - b);
    // Fair turns: with 8 running and the rest waiting in order, the last stream ends within a few
    // multiples of the median — none waits for all the others to finish twice over.
    expect(times.at(-1)!).toBeLessThan(4 * times[Math.floor(times.length / 2)]!);
    expect(tf.memory().numTensors).toBe(memoryBefore); // every cache freed
    console.log(`50 streams of 12 tokens: ${(times.at(-1)! / 1000).toFixed(2)} s, p50 ${(times[24]! / 1000).toFixed(2)} s, p95 ${(times[47]! / 1000).toFixed(2)} s, ${((50 * 12) / (times.at(-1)! / 1000)).toFixed(0)} tokens/s`);
  }, 120_000);
});
