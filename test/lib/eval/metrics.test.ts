// The arithmetic of the reports: the Wilson interval, the sliding windows of perplexity, character F1.
import { describe, expect, it } from 'vitest';
import { charF1 } from '../../../lib/eval/generation.js';
import { pplResult, slidingWindows } from '../../../lib/eval/perplexity.js';
import { accuracy, wilsonInterval } from '../../../lib/eval/stats.js';

describe('wilsonInterval', () => {
  it('matches the textbook values (Newcombe 1998, table I: 0/10, 1/29, 81/263; and 5/10)', () => {
    const close = ([lo, hi]: [number, number], want: [number, number]) => {
      expect(lo).toBeCloseTo(want[0], 4);
      expect(hi).toBeCloseTo(want[1], 4);
    };
    close(wilsonInterval(0, 10), [0, 0.2775]);
    close(wilsonInterval(1, 29), [0.0061, 0.1718]);
    close(wilsonInterval(81, 263), [0.2553, 0.3662]);
    close(wilsonInterval(5, 10), [0.2366, 0.7634]);
  });

  it('says when a small sample cannot tell a model from chance', () => {
    expect(accuracy(30, 100).interval[0]).toBeLessThan(0.25); // 30% of 100 could be guessing
    expect(accuracy(300, 1000).interval[0]).toBeGreaterThan(0.25); // 30% of 1,000 is not
    expect(accuracy(0, 0)).toMatchObject({ n: 0, accuracy: NaN });
  });
});

describe('slidingWindows', () => {
  it.each([[10, 4, 4], [10, 4, 1], [10, 4, 3], [5, 8, 8], [2, 3, 2], [1000, 512, 128]])('predicts each id of %i once, seeing at most the window (%i, stride %i)', (n, window, stride) => {
    const predicted: number[] = [];
    for (const w of slidingWindows(n, window, stride)) {
      expect(w.end - w.begin - 1).toBeLessThanOrEqual(window); // inputs fed
      expect(w.from).toBeGreaterThan(w.begin);
      for (let j = w.from; j < w.end; j++) predicted.push(j);
    }
    expect(predicted).toEqual(Array.from({ length: n - 1 }, (_, i) => i + 1));
  });

  it('gives each prediction at least window − stride ids of context after the first window', () => {
    const windows = slidingWindows(100, 16, 4);
    for (const w of windows.slice(1)) expect(w.from - w.begin).toBeGreaterThanOrEqual(16 - 4);
  });

  it('refuses a stride larger than the window', () => {
    expect(() => slidingWindows(10, 4, 5)).toThrow('--stride: 5, expected a whole number from 1 to the window (4)');
  });

  it('turns summed surprise into loss, perplexity and bits per byte', () => {
    const r = pplResult(4, 8, 4 * Math.log(10));
    expect(r.loss).toBeCloseTo(Math.log(10), 12);
    expect(r.ppl).toBeCloseTo(10, 10);
    expect(r.bpb).toBeCloseTo((4 * Math.log2(10)) / 8, 12);
  });
});

describe('charF1', () => {
  it('scores the characters two answers share', () => {
    expect(charF1('李白', '李白')).toBe(1);
    expect(charF1('杜甫', '李白')).toBe(0);
    expect(charF1('作者是李白', '李白')).toBeCloseTo((2 * (2 / 5) * 1) / (2 / 5 + 1), 12);
    expect(charF1('ＡＢ c', 'abc')).toBeCloseTo(1 / 3, 12); // NFKC: full-width Ａ is A; case counts; spaces do not
    expect(charF1('', '')).toBe(1);
    expect(charF1('', 'x')).toBe(0);
  });
});
