// ChatSession: the prompt is the chat template of system + history + message, replies stream in pieces
// that add up to the reply, and the history is trimmed (oldest exchanges first) to fit the context.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { ChatSession } from '../../../lib/infer/chat.js';
import { generate } from '../../../lib/infer/sampling.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { applyChatTemplate } from '../../../lib/tokenizer/chat.js';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';

await initBackend('cpu', { quiet: true });
const tokenizer = loadTokenizer('datasets/tokenizer');
const model = LlamaModel.create(presetConfig('nano', { vocabSize: tokenizer.vocabSize, hidden: 32, ffn: 64, layers: 1, heads: 2, kvHeads: 1, maxSeq: 64 }), 1);
const imEnd = tokenizer.specialId('<|im_end|>');

describe('ChatSession', () => {
  it('replies to the templated conversation, streaming pieces that make up the reply', () => {
    const session = new ChatSession(model, tokenizer, { sampling: { temperature: 0 }, maxTokens: 6, seed: 0, system: '你好' });
    const pieces: string[] = [];
    const answer = session.reply('床前明月光', (t) => pieces.push(t));
    const prompt = applyChatTemplate(tokenizer, [{ role: 'system', content: '你好' }, { role: 'user', content: '床前明月光' }], { addGenerationPrompt: true }).ids;
    const expected = generate(model, prompt, { temperature: 0, maxNewTokens: 6, stopIds: [imEnd] });
    expect(answer.tokens).toBe(expected.length);
    expect(answer.reply).toBe(tokenizer.decode(expected.filter((id) => id !== imEnd), { skipSpecial: true }));
    expect(pieces.join('')).toBe(answer.reply);
    expect(answer.finishReason).toBe(expected[expected.length - 1] === imEnd ? 'stop' : 'length');
    expect(session.history).toEqual([{ role: 'user', content: '床前明月光' }, { role: 'assistant', content: answer.reply }]);
  });

  it('forgets the oldest exchanges to fit the context, keeps the system prompt, and refuses a message that cannot fit', () => {
    const session = new ChatSession(model, tokenizer, { sampling: { temperature: 0 }, maxTokens: 8, seed: 0, system: 'S' });
    for (let i = 0; i < 6; i++) session.reply(`第${i}个问题是什么？`);
    // Each exchange is ≥ 20 tokens: a 64-token context with 8 reply tokens holds at most two of them.
    expect(session.history.length).toBeLessThanOrEqual(4);
    expect(session.history[session.history.length - 2]).toEqual({ role: 'user', content: '第5个问题是什么？' });
    expect(() => session.reply('很长'.repeat(60))).toThrow(/^message: \d+ tokens with the chat template, which leaves no room in the model's context of 64; send a shorter message$/);
    const before = tf.memory().numTensors;
    session.reset();
    session.reply('hi');
    expect(tf.memory().numTensors).toBe(before);
  });
});
