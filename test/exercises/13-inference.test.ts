// Exercise 13 tests: run against your work with `npm run check -- 13`.
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { filterTopKTopP, parseSse, readChatStream, repetitionPenalty } from '@exercise/13-inference.js';
import { initBackend } from '../../lib/backend/init.js';
import { applyRepetitionPenalty } from '../../lib/infer/sampling.js';
import { loadModelDir } from '../../lib/io/model-dir.js';
import { SERVE_DEFAULTS } from '../../lib/serve/options.js';
import { createApiServer } from '../../lib/serve/server.js';

const close = (got: number[], want: number[]) => {
  expect(got).toHaveLength(want.length);
  got.forEach((v, i) => expect(v, `index ${i}`).toBeCloseTo(want[i]!, 12));
};

describe('filterTopKTopP', () => {
  const P = [0.05, 0.5, 0.15, 0.3]; // ids by probability: 1, 3, 2, 0

  it('keeps everything with k = 0 and p = 1', () => close(filterTopKTopP(P, 0, 1), P));

  it('top-k keeps the k most likely, renormalised', () => {
    close(filterTopKTopP(P, 2, 1), [0, 0.5 / 0.8, 0, 0.3 / 0.8]);
    close(filterTopKTopP(P, 1, 1), [0, 1, 0, 0]);
  });

  it('top-p keeps the fewest most likely that reach p: 0.8 needs two, 0.81 three', () => {
    close(filterTopKTopP(P, 0, 0.8), [0, 0.625, 0, 0.375]);
    close(filterTopKTopP(P, 0, 0.81), [0, 0.5 / 0.95, 0.15 / 0.95, 0.3 / 0.95]);
    close(filterTopKTopP(P, 0, 0.01), [0, 1, 0, 0]);
  });

  it('top-p applies to the renormalised top k (Hugging Face\'s order), and ties keep the lower id', () => {
    close(filterTopKTopP(P, 2, 0.6), [0, 1, 0, 0]); // over the top 2: 0.625 ≥ 0.6
    close(filterTopKTopP([0.25, 0.25, 0.25, 0.25], 2, 1), [0.5, 0.5, 0, 0]);
  });
});

describe('repetitionPenalty', () => {
  it("is lib's applyRepetitionPenalty: positive logits divided, negative multiplied, each id once", () => {
    const logits = [2, -1, 0.5, -3, 0, 4];
    for (const [seen, penalty] of [[[0, 1, 1, 4], 2], [[5, 3], 1.25], [[0, 1], 1], [[2, 2, 2], 0.5]] as [number[], number][]) {
      close(repetitionPenalty(logits, seen, penalty), Array.from(applyRepetitionPenalty(logits, seen, penalty)));
    }
    expect(repetitionPenalty(logits, [1, 1], 2)[1]).toBe(-2); // not −4
  });
});

describe('parseSse', () => {
  it('splits events at blank lines and joins multi-line data, as the SSE specification says', () => {
    expect(parseSse('data: a\n\ndata: b\ndata: c\n\n')).toEqual(['a', 'b\nc']);
    expect(parseSse('data:no space\r\n\r\ndata:  two spaces\r\r')).toEqual(['no space', ' two spaces']);
    expect(parseSse(': a comment\nevent: update\nid: 7\ndata: x\n\n\n\nretry: 10\n\n')).toEqual(['x']);
    expect(parseSse('data: complete\n\ndata: cut off')).toEqual(['complete']);
    expect(parseSse('data: {"a": 1}\n\ndata: [DONE]\n\n')).toEqual(['{"a": 1}', '[DONE]']);
  });
});

describe('readChatStream', () => {
  it("reads tinyllm serve's stream: the text the non-streamed reply has, its finish_reason, and [DONE]", async () => {
    await initBackend('cpu', { quiet: true });
    const { model, tokenizer } = loadModelDir('datasets/models/chat');
    const server = createApiServer(model, tokenizer!, { ...SERVE_DEFAULTS, modelName: 'chat' });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
    const request = (stream: boolean) => fetch(url, { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: '你是谁？' }], temperature: 0, max_tokens: 20, stream, stream_options: stream ? { include_usage: true } : undefined }) });
    try {
      const plain = (await (await request(false)).json()) as { choices: { message: { content: string }; finish_reason: string }[] };
      const streamed = readChatStream(await (await request(true)).text());
      expect(streamed).toEqual({ text: plain.choices[0]!.message.content, finishReason: plain.choices[0]!.finish_reason, done: true });
    } finally {
      await new Promise((ok) => server.close(ok));
      model.dispose();
    }
  });

  it('says when the stream was cut before [DONE]', () => {
    const chunk = (content: string, finish: string | null = null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
    expect(readChatStream(chunk('你') + chunk('好'))).toEqual({ text: '你好', finishReason: null, done: false });
    expect(readChatStream(`${chunk('a')}${chunk('', 'stop')}data: [DONE]\n\n`)).toEqual({ text: 'a', finishReason: 'stop', done: true });
  });
});
