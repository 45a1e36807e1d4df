// Batched decoding against generate() prompt by prompt: prompts prefilled together (right-padded) and
// per-row cache positions must make every row compute what it would alone — greedy and sampled, rows that stop early,
// sequences joining and leaving a running batch — on the shipped chat model.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { BatchDecoder, generateBatch } from '../../../lib/infer/batch-decoder.js';
import { generate, prefill, Sequence } from '../../../lib/infer/sampling.js';
import { loadModelDir } from '../../../lib/io/model-dir.js';
import { applyChatTemplate } from '../../../lib/tokenizer/chat.js';

await initBackend('cpu', { quiet: true });
const { model, tokenizer } = loadModelDir('datasets/models/chat');
const questions = ['你是谁？', '请介绍一下长城。', '写一首关于春天的短诗，要有花和雨。', 'Hi'];
const prompts = questions.map((q) => applyChatTemplate(tokenizer!, [{ role: 'user', content: q }], { addGenerationPrompt: true }).ids);
const stopIds = [tokenizer!.specialId('<|im_end|>')];

describe('generateBatch', () => {
  it('prompts of different lengths: each row equals generate() alone, greedy', () => {
    expect(new Set(prompts.map((p) => p.length)).size).toBe(4);
    const options = { temperature: 0, maxNewTokens: 24, stopIds };
    expect(generateBatch(model, prompts, options)).toEqual(prompts.map((p) => generate(model, p, options)));
  });

  it('sampled with penalties and a seed: the same tokens as alone, rows ending at different steps', () => {
    const options = { temperature: 0.9, topK: 40, topP: 0.95, repetitionPenalty: 1.1, frequencyPenalty: 0.3, maxNewTokens: 40, seed: 7, stopIds };
    const batched = generateBatch(model, prompts, options);
    expect(batched).toEqual(prompts.map((p) => generate(model, p, options)));
    expect(new Set(batched.map((r) => r.length)).size).toBeGreaterThan(1);
  });

  it('checks every prompt against the context', () => {
    expect(() => generateBatch(model, [prompts[0]!, []], { temperature: 0, maxNewTokens: 4 })).toThrow('generateBatch: prompt 1: empty prompt, expected at least one id');
    expect(() => generateBatch(model, [prompts[0]!], { temperature: 0, maxNewTokens: 600 })).toThrow(/^generateBatch: prompt 0: \d+ prompt \+ 600 new tokens exceed maxSeq 512$/);
  });
});

describe('prefill', () => {
  it('prompts of different lengths in one pass: each row\'s logits and cache as the prompt alone gives them', () => {
    const together = model.newCache(4, 64);
    const logits = prefill(model, prompts, together, [2, 0, 3, 1]);
    expect([...together.lengths]).toEqual([prompts[1]!.length, prompts[3]!.length, prompts[0]!.length, prompts[2]!.length]);
    prompts.forEach((prompt, b) => {
      const alone = model.newCache(1, 64);
      const expected = prefill(model, [prompt], alone, [0])[0]!;
      expect(Math.max(...logits[b]!.map((x, i) => Math.abs(x - expected[i]!)))).toBeLessThan(1e-4);
      // The prompt's keys in its row equal those of the prompt alone (the padding's slots after them are never read).
      const row = [2, 0, 3, 1][b]!;
      const keys = tf.tidy(() => tf.slice(together.keys[1]!, [row, 0, 0, 0], [1, -1, prompt.length, -1]).sub(tf.slice(alone.keys[1]!, [0, 0, 0, 0], [1, -1, prompt.length, -1])).abs().max().dataSync()[0]!);
      expect(keys).toBeLessThan(1e-5);
      alone.dispose();
    });
    expect(() => prefill(model, [prompts[0]!], together, [0])).toThrow(`prefill: cache row 0 holds ${prompts[1]!.length} positions, expected an empty row`);
    together.dispose();
  });

  it('more prompt positions than one pass takes: split into passes, every row as alone', () => {
    const batch = new BatchDecoder(model, 4, 128, 2 * prompts[2]!.length); // the longest prompt twice: passes of 1–2 prompts
    const options = { temperature: 0, maxNewTokens: 6, stopIds };
    const sequences = batch.join(prompts.map((p) => batch.sequence(p, options)));
    while (batch.size > 0) batch.step();
    expect(sequences.map((s) => s.ids)).toEqual(prompts.map((p) => generate(model, p, options)));
    expect(() => batch.join(Array.from({ length: 5 }, () => batch.sequence(prompts[0]!, options)))).toThrow("generate: 5 sequences to start, but only 4 of the batch's 4 rows are free");
    expect(() => batch.join([sequences[0]!])).toThrow('generate: a sequence that has started cannot join again');
    batch.dispose();
  });
});

describe('BatchDecoder (continuous batching)', () => {
  it('sequences joining at different steps and leaving early each give what generate() gives alone; no tensor is left', () => {
    const tensors = tf.memory().numTensors;
    const options = (seed: number) => ({ temperature: 0.8, topP: 0.95, maxNewTokens: 30, seed, stopIds });
    const batch = new BatchDecoder(model, 3);
    const sequences: { prompt: number[]; seed: number; sequence: Sequence }[] = [];
    const join = (i: number) => sequences.push({ prompt: prompts[i]!, seed: i + 1, sequence: batch.add(prompts[i]!, options(i + 1)) });
    join(0);
    for (let step = 0; step < 60; step++) {
      if (step === 2) join(2); // a longer prompt beside a row already decoding
      if (step === 5) join(3); // a shorter one: all 3 rows busy
      if (step === 9) sequences[0]!.sequence.finish('length'); // cancelled: its row is freed…
      if (step === 12) join(1); // …and taken by the next
      batch.step();
    }
    expect(batch.size).toBe(0);
    for (const { prompt, seed, sequence } of sequences) {
      const alone = generate(model, prompt, options(seed));
      if (sequence === sequences[0]!.sequence) expect(alone.slice(0, sequence.ids.length)).toEqual(sequence.ids);
      else expect(sequence.ids).toEqual(alone);
    }
    batch.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
  });
});

describe('Sequence: ids picked on the GPU', () => {
  it('needs the logits unless greedy without penalties and not keeping them; acceptId records an id as accept would', () => {
    const greedy = new Sequence([1, 2], { temperature: 0, maxNewTokens: 2, stopIds: [7] }, 64);
    expect(greedy.needsLogits).toBe(false);
    for (const options of [{ temperature: 0.5 }, { temperature: 0, repetitionPenalty: 1.1 }, { temperature: 0, presencePenalty: 0.5 }, { temperature: 0, keepLogits: true }]) {
      expect(new Sequence([1], { ...options, maxNewTokens: 1 }, 64).needsLogits).toBe(true);
    }
    expect(greedy.acceptId(7)).toBe(7);
    expect([greedy.ids, greedy.finishReason, greedy.lastLogits]).toEqual([[7], 'stop', null]);
    expect(() => new Sequence([1], { temperature: 1, maxNewTokens: 1 }, 64).acceptId(3)).toThrow('generate: acceptId() for a sequence whose next id needs the logits');
  });
});
