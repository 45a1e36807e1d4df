// decode(encode(s)) === s for any valid string: 10,000 seeded random strings mixing scripts, emoji,
// combining marks, control characters, whitespace and special-token look-alikes.
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';

/** mulberry32: a small seeded generator, so a failure names a reproducible case. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Code point ranges to draw from: [first, last].
const RANGES: [number, number][] = [
  [0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], // ASCII, weighted up
  [0x00, 0x1f], [0x7f, 0x9f], // C0 and C1 controls
  [0x4e00, 0x9fff], [0x4e00, 0x9fff], [0x3000, 0x303f], [0xff00, 0xffef], // CJK, punctuation, full-width
  [0x0300, 0x036f], // combining marks
  [0x0400, 0x04ff], [0x0600, 0x06ff], [0x0900, 0x097f], [0xac00, 0xd7a3], // Cyrillic, Arabic, Devanagari, Hangul
  [0x1f300, 0x1faff], [0x20000, 0x2a6df], [0x1d400, 0x1d7ff], // emoji, CJK Ext B, math letters (astral)
  [0x2000, 0x206f], [0xe000, 0xf8ff], [0xfff0, 0xfffd], // general punctuation, private use, specials
];
const FRAGMENTS = [' ', '  ', '\n', '\r\n', '\t', "'s", '<|im_end|>', '<|endoftext', '|>', '\u200d', '\ufeff', '1234'];

function randomString(next: () => number): string {
  const length = Math.floor(next() * 40);
  let s = '';
  for (let i = 0; i < length; i++) {
    if (next() < 0.1) {
      s += FRAGMENTS[Math.floor(next() * FRAGMENTS.length)];
      continue;
    }
    const [lo, hi] = RANGES[Math.floor(next() * RANGES.length)]!;
    s += String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1)));
  }
  return s;
}

describe('round trip', () => {
  const tokenizer = loadTokenizer('datasets/tokenizer');
  it('decode(encode(s)) === s for 10,000 random strings', () => {
    const next = rng(12345);
    let astral = 0;
    for (let i = 0; i < 10_000; i++) {
      const s = randomString(next);
      if (/[\u{10000}-\u{10ffff}]/u.test(s)) astral++;
      const ids = tokenizer.encode(s);
      const back = tokenizer.decode(ids);
      if (back !== s) expect({ case: i, back }).toEqual({ case: i, back: s });
      expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize)).toBe(true);
    }
    expect(astral).toBeGreaterThan(1000); // the property covered astral-plane characters
  });

  it('plain mode never produces a special id, even for special-token text', () => {
    const next = rng(99);
    for (let i = 0; i < 1000; i++) {
      const s = randomString(next) + '<|im_start|><|im_end|><|endoftext|>';
      const ids = tokenizer.encode(s, { specials: 'plain' });
      expect(ids.some((id) => tokenizer.isSpecial(id))).toBe(false);
      expect(tokenizer.decode(ids)).toBe(s);
    }
  });
});
