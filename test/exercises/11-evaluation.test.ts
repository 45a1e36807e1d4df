// Exercise 11 tests: run against your work with `npm run check -- 11`.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { accuracyInterval, cmmluPrompt, surprise, type Question } from '@exercise/11-evaluation.js';
import { initBackend } from '../../lib/backend/init.js';
import { scoreIds } from '../../lib/eval/logprobs.js';
import { mcqPrompt } from '../../lib/eval/mcq.js';
import { readMcq } from '../../lib/eval/mcq-data.js';
import { pplDocument, pplResult, type PplResult } from '../../lib/eval/perplexity.js';
import { wilsonInterval } from '../../lib/eval/stats.js';
import { loadModelDir } from '../../lib/io/model-dir.js';

await initBackend('cpu', { quiet: true });

// Hugging Face transformers on the shipped chat model (test/fixtures/eval/make_fixtures.py): the prompts it
// built for the first item of each subject, and the perplexity of each document of ppl.jsonl.
const FIXTURES = 'test/fixtures/eval';
const expected = JSON.parse(readFileSync(`${FIXTURES}/expected.json`, 'utf8')) as Record<'ceval' | 'cmmlu', { subjects: Record<string, { first_item: { letter_k2_prompt: string } }> }> & {
  ppl: Record<string, { documents: PplResult[] }>;
};

/** The chat model's per-token log-probabilities of the two short documents of ppl.jsonl (both fit one window). */
function fixtureLogProbs(): { logProbs: number[]; bytes: number }[] {
  const { model, tokenizer } = loadModelDir('datasets/models/chat');
  const texts = readFileSync(`${FIXTURES}/ppl.jsonl`, 'utf8').split('\n').filter((l) => l !== '').slice(0, 2).map((l) => (JSON.parse(l) as { text: string }).text);
  const scored = texts.map((text) => {
    const doc = pplDocument(tokenizer!, text); // <|endoftext|>, then the text's ids
    return { logProbs: scoreIds(model, doc.ids).slice(1) as number[], bytes: doc.bytes };
  });
  model.dispose();
  return scored;
}
const relative = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

describe('surprise', () => {
  it('gives the loss, perplexity and bits per byte of hand-computed log-probabilities', () => {
    // p = 1/2 and 1/8: nll = 4 ln 2, loss 2 ln 2, perplexity 4; over 2 bytes, 4 bits / 2 bytes = 2.
    const s = surprise([{ logProbs: [Math.log(1 / 2), Math.log(1 / 8)], bytes: 2 }]);
    expect(s.tokens).toBe(2);
    expect(s.bytes).toBe(2);
    expect(s.nll).toBeCloseTo(4 * Math.log(2), 12);
    expect(s.loss).toBeCloseTo(2 * Math.log(2), 12);
    expect(s.perplexity).toBeCloseTo(4, 12);
    expect(s.bitsPerByte).toBeCloseTo(2, 12);
    // A uniform guess among 256 byte values, one token per byte: 8 bits per byte, perplexity 256.
    const bytes = surprise([{ logProbs: new Array<number>(10).fill(-Math.log(256)), bytes: 10 }]);
    expect(bytes.perplexity).toBeCloseTo(256, 9);
    expect(bytes.bitsPerByte).toBeCloseTo(8, 12);
  });

  it('counts every token once over several texts, not the mean of their perplexities', () => {
    // One token at p = 1/2 (perplexity 2) and three at p = 1/16 (perplexity 16): nll = ln 2 + 12 ln 2 over 4
    // tokens, perplexity 2^(13/4) ≈ 9.51 — not (2 + 16) / 2 = 9, nor 2^((1 + 4) / 2) ≈ 5.66.
    const s = surprise([{ logProbs: [Math.log(1 / 2)], bytes: 3 }, { logProbs: new Array<number>(3).fill(Math.log(1 / 16)), bytes: 10 }]);
    expect(s.tokens).toBe(4);
    expect(s.bytes).toBe(13);
    expect(s.perplexity).toBeCloseTo(2 ** (13 / 4), 10);
    expect(s.bitsPerByte).toBeCloseTo(13 / 13, 12);
  });

  it("agrees with lib's pplResult", () => {
    const texts = [{ logProbs: [-0.3, -2.5, -7.25, -0.01], bytes: 9 }, { logProbs: [-4, -1.5], bytes: 3 }];
    const s = surprise(texts);
    const want = pplResult(6, 12, 0.3 + 2.5 + 7.25 + 0.01 + 4 + 1.5);
    expect([s.tokens, s.bytes]).toEqual([want.tokens, want.bytes]);
    expect(s.nll).toBeCloseTo(want.nll, 12);
    expect(s.loss).toBeCloseTo(want.loss, 12);
    expect(s.perplexity).toBeCloseTo(want.ppl, 10);
    expect(s.bitsPerByte).toBeCloseTo(want.bpb, 12);
  });

  it("gives transformers' perplexity and bits per byte of the chat model on two documents, from our log-probabilities", () => {
    const scored = fixtureLogProbs();
    const want = expected.ppl['W512_S512']!.documents;
    scored.forEach((text, d) => {
      const s = surprise([text]);
      expect([s.tokens, s.bytes], `document ${d}`).toEqual([want[d]!.tokens, want[d]!.bytes]);
      expect(relative(s.loss, want[d]!.loss), `document ${d} loss`).toBeLessThan(1e-4);
      expect(relative(s.perplexity, want[d]!.ppl), `document ${d} perplexity`).toBeLessThan(1e-3);
      expect(relative(s.bitsPerByte, want[d]!.bpb), `document ${d} bits per byte`).toBeLessThan(1e-4);
    });
    const both = surprise(scored);
    const total = pplResult(want[0]!.tokens + want[1]!.tokens, want[0]!.bytes + want[1]!.bytes, want[0]!.nll + want[1]!.nll);
    expect(relative(both.perplexity, total.ppl)).toBeLessThan(1e-3);
    expect(relative(both.bitsPerByte, total.bpb)).toBeLessThan(1e-4);
  });
});

describe('cmmluPrompt', () => {
  const poem: Question = { question: '《静夜思》的作者是？', options: ['杜甫', '李白', '白居易', '王维'], answer: 'B' };
  const sum: Question = { question: '3 + 5 = ？', options: ['7', '8', '9', '10'], answer: 'B' };

  it('builds the header, the worked examples and the question, character for character', () => {
    expect(cmmluPrompt('中国诗词', poem, [])).toBe(
      '以下是关于中国诗词的单项选择题，请直接给出正确答案的选项。\n\n题目：《静夜思》的作者是？\nA. 杜甫\nB. 李白\nC. 白居易\nD. 王维\n答案是：',
    );
    expect(cmmluPrompt('算术', { ...sum, question: '9 + 8 = ？', options: ['16', '17', '18', '19'], answer: null }, [sum])).toBe(
      '以下是关于算术的单项选择题，请直接给出正确答案的选项。\n\n'
      + '题目：3 + 5 = ？\nA. 7\nB. 8\nC. 9\nD. 10\n答案是：B\n\n'
      + '题目：9 + 8 = ？\nA. 16\nB. 17\nC. 18\nD. 19\n答案是：',
    );
  });

  it("is lib's mcqPrompt on every fixture item in both layouts, with 0 to 3 shots", () => {
    for (const layout of ['ceval', 'cmmlu']) {
      for (const subject of readMcq(`${FIXTURES}/${layout}`).subjects) {
        for (const item of subject.items) {
          for (let k = 0; k <= subject.dev.length; k++) {
            expect(cmmluPrompt(subject.name, item, subject.dev.slice(0, k)), `${layout} ${subject.key} ${item.id}, ${k} shots`).toBe(mcqPrompt(subject.name, item, subject.dev.slice(0, k)));
          }
        }
      }
    }
  });

  it('is the prompt the Python reference built with 2 shots (quoted fields, commas, line breaks in questions)', () => {
    for (const layout of ['ceval', 'cmmlu'] as const) {
      for (const subject of readMcq(`${FIXTURES}/${layout}`).subjects) {
        const want = expected[layout].subjects[subject.key]!.first_item.letter_k2_prompt;
        expect(cmmluPrompt(subject.name, subject.items[0]!, subject.dev.slice(0, 2)), `${layout} ${subject.key}`).toBe(want);
      }
    }
  });
});

describe('accuracyInterval', () => {
  it("gives Newcombe's (1998, table I) Wilson intervals to four decimals", () => {
    // Newcombe, Statistics in Medicine 17:857–872, table I, method 3 (score interval without continuity correction).
    for (const [k, n, low, high] of [[81, 263, 0.2553, 0.3662], [15, 148, 0.0624, 0.1605], [0, 20, 0, 0.1611], [1, 29, 0.0061, 0.1718], [29, 29, 0.8830, 1], [0, 10, 0, 0.2775]] as const) {
      const a = accuracyInterval(k, n);
      expect(a.accuracy, `${k}/${n}`).toBeCloseTo(k / n, 12);
      expect(Math.abs(a.low - low), `${k}/${n} low`).toBeLessThan(5e-5);
      expect(Math.abs(a.high - high), `${k}/${n} high`).toBeLessThan(5e-5);
    }
  });

  it("agrees with lib's wilsonInterval, and at 1,000 items but not 100 tells 30% from chance", () => {
    for (const n of [1, 2, 5, 17, 100, 263, 1647]) {
      for (const k of new Set([0, 1, Math.floor(n / 4), Math.floor(n / 2), n - 1, n].filter((x) => x >= 0))) {
        const a = accuracyInterval(k, n);
        const [low, high] = wilsonInterval(k, n);
        expect(a.low, `${k}/${n} low`).toBeCloseTo(low, 12);
        expect(a.high, `${k}/${n} high`).toBeCloseTo(high, 12);
        expect(a.low <= a.accuracy + 1e-12 && a.accuracy <= a.high + 1e-12, `${k}/${n} inside`).toBe(true); // 0/100's low end is 3e-18 by rounding
      }
    }
    expect(accuracyInterval(30, 100).low).toBeLessThan(0.25);
    expect(accuracyInterval(300, 1000).low).toBeGreaterThan(0.25);
    // A wider interval for a higher confidence: z = 2.5758 is 99%.
    const at99 = accuracyInterval(30, 100, 2.5758293035489);
    expect(at99.high - at99.low).toBeGreaterThan(accuracyInterval(30, 100).high - accuracyInterval(30, 100).low);
  });
});
