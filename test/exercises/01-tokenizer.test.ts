// Exercise 01 tests: run against your work with `npm run check -- 01`.
import { describe, expect, it } from 'vitest';
import { applyMerge, countPairs, encodeWord, pairKey } from '@exercise/01-tokenizer.js';

describe('countPairs', () => {
  it('counts each adjacent pair, weighted by the word count', () => {
    const counts = countPairs([[['l', 'o', 'w'], 5], [['l', 'o', 'w', 'e', 'r'], 2], [['n', 'e', 'w'], 6]]);
    expect(Object.fromEntries(counts)).toEqual({
      [pairKey('l', 'o')]: 7, [pairKey('o', 'w')]: 7, [pairKey('w', 'e')]: 2, [pairKey('e', 'r')]: 2,
      [pairKey('n', 'e')]: 6, [pairKey('e', 'w')]: 6,
    });
  });
  it('counts a pair twice when it occurs twice in a word, and ignores one-symbol words', () => {
    const counts = countPairs([[['a', 'a', 'a'], 3], [['中'], 10]]);
    expect(Object.fromEntries(counts)).toEqual({ [pairKey('a', 'a')]: 6 });
  });
});

describe('applyMerge', () => {
  it('merges every occurrence', () => {
    expect(applyMerge(['l', 'o', 'w', ' ', 'l', 'o'], 'l', 'o')).toEqual(['lo', 'w', ' ', 'lo']);
  });
  it('scans left to right without overlapping', () => {
    expect(applyMerge(['a', 'a', 'a'], 'a', 'a')).toEqual(['aa', 'a']);
    expect(applyMerge(['a', 'a', 'a', 'a'], 'a', 'a')).toEqual(['aa', 'aa']);
  });
  it('leaves words without the pair unchanged, multi-character symbols included', () => {
    expect(applyMerge(['天', '气', '很好'], '很', '好')).toEqual(['天', '气', '很好']);
    expect(applyMerge(['很', '好', '很好'], '很', '好')).toEqual(['很好', '很好']);
  });
});

describe('encodeWord', () => {
  const merges: [string, string][] = [['e', 'r'], ['l', 'o'], ['lo', 'w'], ['low', 'er'], ['n', 'e']];
  it('applies merges by rank, not by position', () => {
    expect(encodeWord('lower', merges)).toEqual(['lower']);
    expect(encodeWord('newer', merges)).toEqual(['ne', 'w', 'er']);
  });
  it('returns characters when no merge applies', () => {
    expect(encodeWord('xyz', merges)).toEqual(['x', 'y', 'z']);
    expect(encodeWord('', merges)).toEqual([]);
  });
  it('splits astral characters as whole characters', () => {
    expect(encodeWord('😀lo', merges)).toEqual(['😀', 'lo']);
  });
});
