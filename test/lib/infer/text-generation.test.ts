// TextGeneration: streamed text with stop strings — a stop string ends the text where it begins, also
// when it arrives split over several tokens (the start is held back until it is decided), and text
// that only looked like the start of one comes out once it is clear.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { Decoder } from '../../../lib/infer/sampling.js';
import { streamText, TextGeneration } from '../../../lib/infer/text-generation.js';
import { loadModelDir } from '../../../lib/io/model-dir.js';
import { applyChatTemplate } from '../../../lib/tokenizer/chat.js';

await initBackend('cpu', { quiet: true });
const { model, tokenizer } = loadModelDir('datasets/models/chat');
const prompt = applyChatTemplate(tokenizer!, [{ role: 'user', content: '你是谁？' }], { addGenerationPrompt: true }).ids;
const imEnd = tokenizer!.specialId('<|im_end|>');

/** Run a greedy generation with these stop strings; the pieces it returned, step by step. */
function run(stop: string[], maxNewTokens = 40): { pieces: string[]; generation: TextGeneration } {
  const generation = new TextGeneration(new Decoder(model, prompt, { temperature: 0, maxNewTokens, stopIds: [imEnd] }), tokenizer!, stop);
  const pieces: string[] = [];
  while (!generation.done) pieces.push(generation.step());
  return { pieces, generation };
}

describe('TextGeneration', () => {
  const full = run([]).generation.text; // 我是 tiny-llm-ts 训练的一个小型中文语言模型，…

  it('without stop strings: the pieces add up to the decoded reply', () => {
    const { pieces, generation } = run([]);
    expect(pieces.join('')).toBe(full);
    expect(full.startsWith('我是 tiny-llm-ts')).toBe(true);
    expect(generation.sequence.finishReason).not.toBeNull();
  });

  it('a stop string spread over several tokens ends the text where it starts, and is never shown in part', () => {
    const stop = 'tiny-llm'; // several tokens: t, in, y, -, …
    const { pieces, generation } = run([stop]);
    expect(generation.text).toBe(full.slice(0, full.indexOf(stop)));
    expect(generation.sequence.finishReason).toBe('stop');
    for (let i = 1; i <= pieces.length; i++) expect(stop.startsWith(pieces.slice(0, i).join('').slice(full.indexOf(stop)))).toBe(true);
    expect(pieces.join('')).toBe(generation.text);
  });

  it('text that only began like a stop string is released once it is decided, and the earliest stop wins', () => {
    const { generation } = run(['tiny-llm-ts 训练的一个大型', '训练']);
    expect(generation.text).toBe(full.slice(0, full.indexOf('训练')));
    const never = run(['tiny-llm-ts 训练了']);
    expect(never.generation.text).toBe(full); // it never completes: everything comes out, finish as without it
  });

  it('streamText yields the same pieces as an async generator, and a consumer that stops early frees the cache', async () => {
    const pieces: string[] = [];
    const stream = streamText(model, tokenizer!, prompt, { temperature: 0, maxNewTokens: 40, stopIds: [imEnd] });
    let result = await stream.next();
    while (!result.done) {
      pieces.push(result.value);
      result = await stream.next();
    }
    expect(pieces.join('')).toBe(full);
    expect(result.value.text).toBe(full);
    const tensors = tf.memory().numTensors;
    for await (const piece of streamText(model, tokenizer!, prompt, { temperature: 0, maxNewTokens: 40 })) if (piece) break;
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('refuses an empty stop string', () => {
    expect(() => new TextGeneration(new Decoder(model, prompt, { temperature: 0, maxNewTokens: 4 }), tokenizer!, [''])).toThrow('stop: an empty string, expected non-empty stop strings');
  });
});
