// The shipped evaluation data (datasets/eval, made by datasets/build-eval.ts) reads cleanly in C-Eval's
// layout, with balanced answers, distinct options and five worked examples per subject.
import { describe, expect, it } from 'vitest';
import { LETTERS, readMcq } from '../../../lib/eval/mcq-data.js';

describe('datasets/eval/mcq', () => {
  const set = readMcq('datasets/eval/mcq');

  it('has six subjects with Chinese names, five dev rows each, and no bad rows', () => {
    expect(set.split).toBe('val');
    expect(set.skipped).toBe(0);
    expect(set.subjects).toHaveLength(6);
    for (const s of set.subjects) {
      expect(s.name).not.toBe(s.key.replace(/_/g, ' ')); // named by subject_mapping.json
      expect(s.dev).toHaveLength(5);
      expect(s.items.length).toBeGreaterThanOrEqual(200);
    }
    expect(set.subjects.reduce((n, s) => n + s.items.length, 0)).toBeGreaterThanOrEqual(1600);
  });

  it('balances the answers over A–D in every subject and never repeats an option', () => {
    for (const s of set.subjects) {
      const counts = LETTERS.map((l) => s.items.filter((i) => i.answer === l).length);
      expect(Math.max(...counts) - Math.min(...counts), s.key).toBeLessThanOrEqual(1);
      for (const item of [...s.items, ...s.dev]) expect(new Set(item.options).size, `${item.file}:${item.line}`).toBe(4);
    }
  });
});
