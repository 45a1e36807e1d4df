import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import {
  applyOpenAiPenalties, applyRepetitionPenalty, checkSamplingOptions, defaultStopIds, generate, generateText, SAMPLING_DEFAULTS, sampleToken, type SampleOptions,
} from '../../../lib/infer/sampling.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { Rng } from '../../../lib/rng.js';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';

await initBackend('cpu', { quiet: true });

const small = presetConfig('nano', { vocabSize: 50, hidden: 32, ffn: 48, layers: 2, heads: 4, kvHeads: 2, maxSeq: 32 });
const P = [0.5, 0.3, 0.15, 0.05];
const LOGITS = P.map(Math.log);

/** How often each id comes out of `draws` seeded samples, as fractions. */
function frequencies(logits: number[], options: SampleOptions, draws = 20000, seed = 11): number[] {
  const rng = new Rng(seed);
  const counts = logits.map(() => 0);
  for (let i = 0; i < draws; i++) counts[sampleToken(logits, options, rng)]!++;
  return counts.map((c) => c / draws);
}

/** Expect sampled frequencies to match probabilities within 0.015 (20,000 draws: ≥ 4 standard deviations). */
function expectFrequencies(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((p, i) => {
    if (p === 0) expect(actual[i], `id ${i}`).toBe(0);
    else expect(Math.abs(actual[i]! - p), `id ${i}: ${actual[i]} vs ${p}`).toBeLessThan(0.015);
  });
}

describe('top-p', () => {
  it('keeps exactly the nucleus: p = 0.8 over [0.5, 0.3, 0.15, 0.05] samples only ids 0 and 1, renormalised', () => {
    // 0.5 + 0.3 reaches 0.8: the nucleus is {0, 1}, sampled as 0.5/0.8 = 0.625 and 0.3/0.8 = 0.375.
    expectFrequencies(frequencies(LOGITS, { topP: 0.8 }), [0.625, 0.375, 0, 0]);
  });

  it('p = 0.81 adds id 2; p = 1 keeps all; a tiny p keeps only the most likely', () => {
    // 0.8 < 0.81 ≤ 0.95: {0, 1, 2}, renormalised by 0.95.
    expectFrequencies(frequencies(LOGITS, { topP: 0.81 }), [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0]);
    expectFrequencies(frequencies(LOGITS, { topP: 1 }), P);
    expectFrequencies(frequencies(LOGITS, { topP: 0.01 }, 2000), [1, 0, 0, 0]);
  });

  it('applies after temperature: at T = 2 the probabilities are ∝ √p, and p = 0.8 then needs three tokens', () => {
    // √[0.5, 0.3, 0.15, 0.05] = [0.70711, 0.54772, 0.38730, 0.22361], sum 1.86574:
    // probabilities [0.37899, 0.29357, 0.20758, 0.11985]; cumulative 0.37899, 0.67256, 0.88015 ≥ 0.8.
    const kept = [0.70711, 0.54772, 0.38730];
    const sum = kept.reduce((a, b) => a + b, 0);
    expectFrequencies(frequencies(LOGITS, { temperature: 2, topP: 0.8 }), [...kept.map((w) => w / sum), 0]);
  });

  it('applies after top-k, over the renormalised k best (as Hugging Face does)', () => {
    // Top-2 gives [0.625, 0.375]: p = 0.6 keeps id 0 alone, p = 0.7 keeps both.
    expectFrequencies(frequencies(LOGITS, { topK: 2, topP: 0.6 }, 2000), [1, 0, 0, 0]);
    expectFrequencies(frequencies(LOGITS, { topK: 2, topP: 0.7 }), [0.625, 0.375, 0, 0]);
  });
});

describe('repetition penalty', () => {
  it("follows Hugging Face's rule: positive logits of seen ids divided, negative ones multiplied, each id once", () => {
    const logits = [2, -1, 0.5, -3, 0, 4];
    // Seen: 0 (2 → 1), 1 twice (-1 → -2, not -4), 4 (0 stays 0); 2, 3, 5 unseen.
    expect(Array.from(applyRepetitionPenalty(logits, [0, 1, 1, 4], 2))).toEqual([1, -2, 0.5, -3, 0, 4]);
    expect(Array.from(applyRepetitionPenalty(logits, [5, 3], 1.25))).toEqual([2, -1, 0.5, -3.75, 0, 3.2]);
    expect(Array.from(applyRepetitionPenalty(logits, [0, 1], 1))).toEqual(logits);
    expect(() => applyRepetitionPenalty(logits, [6], 2)).toThrow('repetitionPenalty: seen id 6 is outside the logits, expected an id < 6');
  });

  it('changes what greedy and sampling pick', () => {
    // 2 / 1.5 = 1.333 falls below 1.5: greedy moves from id 0 to id 1.
    expect(sampleToken([2, 1.5, 0], { temperature: 0 }, new Rng(1), [0])).toBe(0);
    expect(sampleToken([2, 1.5, 0], { temperature: 0, repetitionPenalty: 1.5 }, new Rng(1), [0])).toBe(1);
    // -1 · 1.5 = -1.5 falls below -1.2: greedy moves from id 0 to id 1.
    expect(sampleToken([-1, -1.2], { temperature: 0, repetitionPenalty: 1.5 }, new Rng(1), [0])).toBe(1);
    // Sampling uses the penalised logits: ln 0.5 · 2 = ln 0.25 against ln 0.3 and ln 0.2, so
    // probabilities ∝ [0.25, 0.3, 0.2] / 0.75 (the logits are negative, so the penalty multiplies).
    const logits = [0.5, 0.3, 0.2].map(Math.log);
    const rng = new Rng(5);
    const counts = [0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[sampleToken(logits, { repetitionPenalty: 2 }, rng, [0])]!++;
    expectFrequencies(counts.map((c) => c / 20000), [0.25 / 0.75, 0.3 / 0.75, 0.2 / 0.75]);
  });
});

describe('min-p', () => {
  it('keeps tokens at least p times as likely as the best: 0.5 over [0.5, 0.3, 0.15, 0.05] keeps ids 0 and 1', () => {
    // 0.3 ≥ 0.5·0.5 = 0.25 > 0.15: {0, 1}, renormalised by 0.8.
    expectFrequencies(frequencies(LOGITS, { minP: 0.5 }), [0.625, 0.375, 0, 0]);
    expectFrequencies(frequencies(LOGITS, { minP: 0.1 }), P); // 0.05 ≥ 0.05: all kept
    expectFrequencies(frequencies(LOGITS, { minP: 1 }, 2000), [1, 0, 0, 0]);
  });
});

describe('presence and frequency penalties', () => {
  it("subtract OpenAI's presence once and frequency per occurrence from the generated ids' logits", () => {
    const logits = [2, 1, 0.5, 0];
    expect(Array.from(applyOpenAiPenalties(logits, [0, 0, 0, 2], 0.5, 0.25))).toEqual([2 - 0.5 - 0.75, 1, 0.5 - 0.5 - 0.25, 0]);
    expect(Array.from(applyOpenAiPenalties(logits, [1], -1, 0))).toEqual([2, 2, 0.5, 0]); // negative: encourages repeats
    // Greedy moves off id 0 once it was generated twice: 2 − 0.2 − 2·0.5 = 0.8 < 1.
    expect(sampleToken(logits, { temperature: 0, presencePenalty: 0.2, frequencyPenalty: 0.5 }, new Rng(1), undefined, [0])).toBe(0);
    expect(sampleToken(logits, { temperature: 0, presencePenalty: 0.2, frequencyPenalty: 0.5 }, new Rng(1), undefined, [0, 0])).toBe(1);
    expect(() => sampleToken(logits, { presencePenalty: 3 }, new Rng(1))).toThrow('presencePenalty: 3, expected a number in [-2, 2] (0: off)');
  });
});

describe('sampleToken', () => {
  it('temperature 0 is the argmax whatever top-k, top-p and the random numbers say', () => {
    const rng = new Rng(9);
    for (let trial = 0; trial < 50; trial++) {
      const logits = Array.from({ length: 20 }, () => rng.next() * 10 - 5);
      const argmax = logits.indexOf(Math.max(...logits));
      expect(sampleToken(logits, { temperature: 0 }, rng)).toBe(argmax);
      expect(sampleToken(logits, { temperature: 0, topK: 3, topP: 0.2 }, rng)).toBe(argmax);
    }
  });

  it('rejects bad options with one line naming the option', () => {
    const cases: [SampleOptions, string][] = [
      [{ topP: 1.5 }, 'topP: 1.5, expected a number in (0, 1] (1: off)'],
      [{ topP: 0 }, 'topP: 0, expected a number in (0, 1] (1: off)'],
      [{ temperature: -1 }, 'temperature: -1, expected a number >= 0 (0: greedy)'],
      [{ topK: 2.5 }, 'topK: 2.5, expected an integer >= 0 (0: off)'],
      [{ repetitionPenalty: 0 }, 'repetitionPenalty: 0, expected a number > 0 (1: off)'],
      [{ repetitionPenalty: NaN }, 'repetitionPenalty: NaN, expected a number > 0 (1: off)'],
    ];
    for (const [options, message] of cases) expect(() => sampleToken([0, 1], options, new Rng(0))).toThrow(message);
    expect(() => checkSamplingOptions({ topP: 2 }, { topP: '--top-p' })).toThrow(/^--top-p: 2, expected a number in \(0, 1\]/);
    expect(() => checkSamplingOptions({ seed: -1 })).toThrow('seed: -1, expected an integer in [0, 2^32)');
    expect(() => checkSamplingOptions(SAMPLING_DEFAULTS)).not.toThrow();
  });
});

describe('generate', () => {
  it('calls onToken with exactly the returned ids, in order, and stops after a stop id', () => {
    const model = LlamaModel.create(small, 3);
    const seen: number[] = [];
    const all = generate(model, [1, 2, 3], { maxNewTokens: 12, temperature: 1.5, seed: 4, onToken: (id) => seen.push(id) });
    expect(all.length).toBe(12);
    expect(seen).toEqual(all);
    // Stopping at the id that came 5th: the same draws up to its first occurrence, the stop id included.
    const stop = all[4]!;
    const upTo = all.slice(0, all.indexOf(stop) + 1);
    const streamed: number[] = [];
    const stopped = generate(model, [1, 2, 3], { maxNewTokens: 12, temperature: 1.5, seed: 4, stopIds: [stop], onToken: (id) => streamed.push(id) });
    expect(stopped).toEqual(upTo);
    expect(streamed).toEqual(upTo);
    model.dispose();
  });

  it('penalises the prompt and the ids generated so far, as full forward passes with the penalty do', () => {
    const model = LlamaModel.create(small, 6);
    const prompt = [1, 2, 3, 2];
    const options = { maxNewTokens: 10, temperature: 0, repetitionPenalty: 3 };
    const before = tf.memory().numTensors;
    const fast = generate(model, prompt, options);
    expect(tf.memory().numTensors).toBe(before);
    const slow: number[] = [];
    for (let i = 0; i < 10; i++) {
      const seq = [...prompt, ...slow];
      const last = tf.tidy(() => model.forward(tf.tensor2d([seq], [1, seq.length], 'int32')).logits.slice([0, seq.length - 1, 0], [1, 1, -1]).dataSync());
      const penalised = applyRepetitionPenalty(last, seq, 3);
      slow.push(penalised.indexOf(Math.max(...penalised)));
    }
    expect(fast).toEqual(slow);
    // The penalty matters here: plain greedy decoding gives another continuation.
    expect(generate(model, prompt, { maxNewTokens: 10, temperature: 0 })).not.toEqual(fast);
    model.dispose();
  });

  it('checks its options before running the model', () => {
    const model = LlamaModel.create(small, 1);
    expect(() => generate(model, [1], { maxNewTokens: 2, topP: 1.5 })).toThrow('topP: 1.5, expected a number in (0, 1]');
    expect(() => generate(model, [1], { maxNewTokens: 2.5 })).toThrow('maxNewTokens: 2.5, expected an integer >= 0');
    model.dispose();
  });
});

describe('generateText', () => {
  const tokenizer = loadTokenizer('datasets/tokenizer');
  const config = presetConfig('nano', { vocabSize: tokenizer.vocabSize, layers: 1, maxSeq: 64 });

  it('returns the text of the ids generate() samples, special tokens left out', () => {
    const model = LlamaModel.create(config, 2);
    const options = { maxNewTokens: 30, temperature: 1, seed: 5 };
    const ids = generate(model, tokenizer.encode('床前明月光，'), { ...options, stopIds: defaultStopIds(tokenizer) });
    expect(generateText(model, tokenizer, '床前明月光，', options)).toBe(tokenizer.decode(ids, { skipSpecial: true }).replace(/\uFFFD$/, ''));
    model.dispose();
  });

  it('stops at <|endoftext|> by default, and not when told stopIds: []', () => {
    // A head of zeros makes every logit 0: greedy picks id 0, <|endoftext|>, every time.
    const model = LlamaModel.create(config, 2);
    const head = model.params.get('lm_head.weight')!;
    tf.tidy(() => head.assign(tf.zerosLike(head)));
    expect(defaultStopIds(tokenizer)).toEqual([0, 2]);
    const count = (stopIds?: number[]) => {
      let n = 0;
      expect(generateText(model, tokenizer, 'hi', { maxNewTokens: 5, temperature: 0, onToken: () => n++, ...(stopIds ? { stopIds } : {}) })).toBe('');
      return n;
    };
    expect(count()).toBe(1);
    expect(count([])).toBe(5);
    model.dispose();
  });
});
