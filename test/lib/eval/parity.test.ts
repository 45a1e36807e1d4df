// Our evaluation against Hugging Face transformers on the shipped chat model (fixture from
// test/fixtures/eval/make_fixtures.py): the same prompts and ids, the same predictions in both scoring
// modes and both file layouts with scores within 1e-4, and the same perplexity and bits per byte.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { evaluateMcq, mcqPrompt, type McqOptions } from '../../../lib/eval/mcq.js';
import { readMcq } from '../../../lib/eval/mcq-data.js';
import { evaluatePerplexity, type PplResult } from '../../../lib/eval/perplexity.js';
import { readPplDocuments } from '../../../lib/eval/texts.js';
import { loadModelDir } from '../../../lib/io/model-dir.js';
import type { LlamaModel } from '../../../lib/model/model.js';
import { applyChatTemplate } from '../../../lib/tokenizer/chat.js';
import type { Tokenizer } from '../../../lib/tokenizer/tokenizer.js';

const FIXTURES = 'test/fixtures/eval';
interface Scored { scores: number[]; pred: string }
interface ExpectedSubject {
  name: string;
  first_item: { letter_k2_prompt: string; letter_k2_ids: number[]; chat_ids: number[] };
  items: ({ id: string; answer: string } & Record<Mode, Scored>)[];
}
type Mode = 'letter_k0' | 'letter_k2' | 'letter_k0_chat' | 'option';
const expected = JSON.parse(readFileSync(`${FIXTURES}/expected.json`, 'utf8')) as Record<'ceval' | 'cmmlu', { subjects: Record<string, ExpectedSubject> }> & {
  ppl: Record<string, { window: number; stride: number; documents: PplResult[]; total: PplResult }>;
};
const MODES: Record<Mode, Omit<McqOptions, 'batch'>> = {
  letter_k0: { score: 'letter', shots: 0, chat: false },
  letter_k2: { score: 'letter', shots: 2, chat: false },
  letter_k0_chat: { score: 'letter', shots: 0, chat: true },
  option: { score: 'option', shots: 0, chat: false },
};

let model: LlamaModel;
let tokenizer: Tokenizer;
beforeAll(async () => {
  await initBackend('wasm', { quiet: true }); // the CPU backend with OpenBLAS products: 30× tfjs's plain cpu
  ({ model, tokenizer } = loadModelDir('datasets/models/chat') as { model: LlamaModel; tokenizer: Tokenizer });
});

describe.each(['ceval', 'cmmlu'] as const)('multiple choice on the %s layout, against transformers', (layout) => {
  it('builds the same prompts and ids', () => {
    const set = readMcq(`${FIXTURES}/${layout}`);
    for (const subject of set.subjects) {
      const want = expected[layout].subjects[subject.key]!;
      expect(subject.name).toBe(want.name);
      const prompt = mcqPrompt(subject.name, subject.items[0]!, subject.dev.slice(0, 2));
      expect(prompt).toBe(want.first_item.letter_k2_prompt);
      expect(tokenizer.encode(prompt)).toEqual(want.first_item.letter_k2_ids);
      const chat = applyChatTemplate(tokenizer, [{ role: 'user', content: mcqPrompt(subject.name, subject.items[0]!, []) }], { addGenerationPrompt: true }).ids;
      expect(chat).toEqual(want.first_item.chat_ids);
    }
  });

  it.each(Object.keys(MODES) as Mode[])('%s: the same predictions, scores within 1e-4', (mode) => {
    const set = readMcq(`${FIXTURES}/${layout}`);
    const report = evaluateMcq(model, tokenizer, set, { ...MODES[mode], batch: 5 });
    const want = set.subjects.flatMap((s) => expected[layout].subjects[s.key]!.items);
    expect(report.predictions.map((p) => [p.id, p.answer])).toEqual(want.map((w) => [w.id, w.answer]));
    report.predictions.forEach((p, i) => {
      expect(p.pred).toBe(want[i]![mode].pred);
      p.scores.forEach((s, k) => expect(Math.abs(s - want[i]![mode].scores[k]!)).toBeLessThan(1e-4));
    });
  });
});

describe('perplexity against transformers', () => {
  it.each(Object.keys(expected.ppl))('%s: tokens and bytes exact; loss, perplexity and bits per byte within 1e-4 (relative)', async (setting) => {
    const want = expected.ppl[setting]!;
    const { documents } = await readPplDocuments(`${FIXTURES}/ppl.jsonl`, tokenizer);
    const got = evaluatePerplexity(model, documents, { window: want.window, stride: want.stride, batch: 4 });
    const same = (g: PplResult, w: PplResult) => {
      expect([g.tokens, g.bytes]).toEqual([w.tokens, w.bytes]);
      for (const key of ['nll', 'loss', 'ppl', 'bpb'] as const) expect(Math.abs(g[key] - w[key]) / w[key]).toBeLessThan(1e-4);
    };
    got.documents.forEach((d, i) => same(d, want.documents[i]!));
    same(got.total, want.total);
  });
});
