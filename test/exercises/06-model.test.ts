// Exercise 06 tests: run against your work with `npm run check -- 06`.
import { describe, expect, it } from 'vitest';
import { countParameters, crossEntropy, perplexity } from '@exercise/06-model.js';
import { countParameters as libCount, presetConfig } from '../../lib/model/config.js';

describe('countParameters', () => {
  it('gives 92,051,968 for the 92m preset at vocab 64,798', () => {
    expect(countParameters({ vocabSize: 64798, hidden: 512, ffn: 1408, layers: 8, heads: 8, kvHeads: 8, tieEmbeddings: false })).toBe(92_051_968);
  });
  it.each(['nano', '42m', 'minimind-26m', '210m'])('agrees with the library for %s (GQA and tied included)', (name) => {
    const c = presetConfig(name);
    expect(countParameters(c)).toBe(libCount(c).total);
  });
});

describe('crossEntropy', () => {
  it('is ln(V) for uniform logits and stays finite for large ones', () => {
    expect(crossEntropy([0, 0, 0, 0], 2)).toBeCloseTo(Math.log(4), 10);
    expect(crossEntropy([1000, 0], 0)).toBeCloseTo(0, 10);
    expect(crossEntropy([1000, 0], 1)).toBeCloseTo(1000, 6);
    expect(crossEntropy([Math.log(0.2), Math.log(0.8)], 1)).toBeCloseTo(-Math.log(0.8), 10);
  });
});

describe('perplexity', () => {
  it('is the effective number of equally likely choices', () => {
    expect(perplexity([Math.log(0.25), Math.log(0.25)])).toBeCloseTo(4, 10);
    expect(perplexity([Math.log(0.5), Math.log(0.125)])).toBeCloseTo(4, 10);
  });
});
