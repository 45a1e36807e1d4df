// The fast encoder and trainer against slow, obviously correct references.
import { describe, expect, it } from 'vitest';
import { BYTE_TO_CHAR, fromByteLevel, toByteLevel } from '../../../lib/tokenizer/bytes.js';
import { BpeModel } from '../../../lib/tokenizer/bpe.js';
import { MinHeap } from '../../../lib/tokenizer/heap.js';
import { onigurumaToRegExp, SPLIT_PATTERN, splitIsolated } from '../../../lib/tokenizer/pretokenize.js';
import { minVocabSize, PieceCounts, trainTokenizer } from '../../../lib/tokenizer/train.js';

function rng(seed: number): () => number {
  return () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

/** Reference encoder: repeatedly merge the lowest-ranked adjacent pair (leftmost first). */
function referenceEncode(bytes: Uint8Array, merges: [string, string][], vocab: Map<string, number>): number[] {
  const rank = new Map(merges.map(([a, b], r) => [`${a} ${b}`, r]));
  let symbols = Array.from(bytes, (b) => BYTE_TO_CHAR[b]!);
  for (;;) {
    let best = -1, bestRank = Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const r = rank.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
    }
    if (best < 0) return symbols.map((s) => vocab.get(s)!);
    symbols = [...symbols.slice(0, best), symbols[best]! + symbols[best + 1]!, ...symbols.slice(best + 2)];
  }
}

/** Reference trainer: recount every pair of every word before each merge. */
function referenceMerges(counts: Map<string, number>, numMerges: number, firstByte: number): [string, string][] {
  const tokens = [...Array(firstByte).fill('<special>'), ...BYTE_TO_CHAR];
  const id = new Map(tokens.map((t, i) => [t, i]));
  let words = [...counts].map(([w, c]) => ({ syms: Array.from(new TextEncoder().encode(w), (b) => firstByte + b), c }));
  const merges: [string, string][] = [];
  for (let m = 0; m < numMerges; m++) {
    const pairs = new Map<number, number>();
    for (const { syms, c } of words) for (let i = 0; i + 1 < syms.length; i++) {
      const key = syms[i]! * 2 ** 21 + syms[i + 1]!;
      pairs.set(key, (pairs.get(key) ?? 0) + c);
    }
    let bestKey = -1, bestCount = 0;
    for (const [key, c] of pairs) if (c > bestCount || (c === bestCount && key < bestKey)) [bestKey, bestCount] = [key, c];
    if (bestKey < 0) break;
    const a = Math.floor(bestKey / 2 ** 21), b = bestKey % 2 ** 21, merged = tokens.length;
    tokens.push(tokens[a]! + tokens[b]!);
    id.set(tokens[merged]!, merged);
    merges.push([tokens[a]!, tokens[b]!]);
    words = words.map(({ syms, c }) => {
      const out: number[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) { out.push(merged); i++; } else out.push(syms[i]!);
      }
      return { syms: out, c };
    });
  }
  return merges;
}

function randomCorpus(next: () => number, alphabet: string[], lines: number): string {
  const out: string[] = [];
  for (let l = 0; l < lines; l++) {
    const words: string[] = [];
    for (let w = 0; w < 1 + Math.floor(next() * 8); w++) {
      let word = '';
      for (let c = 0; c < 1 + Math.floor(next() * 7); c++) word += alphabet[Math.floor(next() * alphabet.length)];
      words.push(word);
    }
    out.push(words.join(' '));
  }
  return out.join('\n');
}

describe('byte-level mapping', () => {
  it('maps all 256 bytes to distinct printable characters and back', () => {
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    expect(BYTE_TO_CHAR[0x20]).toBe('Ġ');
    expect(BYTE_TO_CHAR[0x0a]).toBe('Ċ');
    expect(BYTE_TO_CHAR[0x41]).toBe('A');
    expect(toByteLevel('中 a')).toBe('ä¸ŃĠa');
    expect(Array.from(fromByteLevel(toByteLevel('€😀')))).toEqual(Array.from(new TextEncoder().encode('€😀')));
    expect(() => fromByteLevel('中')).toThrow("character U+4e2d is not a byte-level character");
  });
});

describe('MinHeap', () => {
  it('pops in (key, tie) order', () => {
    const next = rng(3);
    const heap = new MinHeap();
    const items = Array.from({ length: 500 }, (_, i) => [Math.floor(next() * 20), Math.floor(next() * 50), i] as const);
    for (const [k, t, v] of items) heap.push(k, t, v);
    const popped: number[][] = [];
    while (heap.size > 0) {
      popped.push([heap.peekKey(), heap.peekTie()]);
      heap.pop();
    }
    const sorted = items.map(([k, t]) => [k, t]).sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
    expect(popped).toEqual(sorted);
  });
});

describe('pre-tokenizer', () => {
  const re = onigurumaToRegExp(SPLIT_PATTERN);
  it('splits English words, CJK runs, single digits, punctuation and whitespace', () => {
    expect(splitIsolated("Hello world, it's 2024!\n\n中文文本，再见。", re)).toEqual([
      'Hello', ' world', ',', ' it', "'s", ' ', '2', '0', '2', '4', '!\n\n', '中文文本', '，再见', '。',
    ]); // as in Qwen2: one non-letter may lead a letter run
  });
  it('translates (?i:…) groups and Unicode whitespace', () => {
    expect(splitIsolated("DON'T", re)).toEqual(['DON', "'T"]);
    expect(onigurumaToRegExp('\\s+').test('\u0085')).toBe(true); // NEL is White_Space
    expect(onigurumaToRegExp('\\s+').test('\ufeff')).toBe(false); // BOM is not
  });
  it('names the pattern it cannot translate', () => {
    expect(() => onigurumaToRegExp('(?i:abc')).toThrow("regex '(?i:abc': unclosed (?i: group");
  });
});

describe('BpeModel', () => {
  it('encodes like the reference on random pieces, long ones included', () => {
    const next = rng(11);
    const text = randomCorpus(next, ['a', 'b', 'c', 'ab', '中', '文', 'é'], 400);
    const pieces = new PieceCounts();
    pieces.add(text);
    const tokenizer = trainTokenizer(pieces, { vocabSize: 400 });
    const model = tokenizer.model;
    const vocab = new Map(model.tokens.flatMap((t, i) => (t === null ? [] : [[t, i] as const])));
    for (let i = 0; i < 300; i++) {
      const piece = randomCorpus(next, ['a', 'b', 'c', '中', 'é', ' '], 1).slice(0, i < 10 ? 2000 : 30);
      const out: number[] = [];
      model.encodePiece(piece, out);
      expect(out).toEqual(referenceEncode(new TextEncoder().encode(piece), model.merges, vocab));
    }
  });
  it('rejects a vocabulary without all 256 bytes, naming the byte', () => {
    expect(() => new BpeModel({ tokens: BYTE_TO_CHAR.slice(1), merges: [] })).toThrow("model.vocab: byte 0x00 ('Ā') has no token");
  });
  it('rejects a merge whose result is not in the vocabulary', () => {
    expect(() => new BpeModel({ tokens: [...BYTE_TO_CHAR], merges: [['a', 'b']] })).toThrow("model.merges[0]: 'a b' uses 'ab', which is not in model.vocab");
  });
});

describe('trainTokenizer', () => {
  it('learns the same merges as a full recount after every merge', () => {
    for (const seed of [1, 2, 3]) {
      const next = rng(seed);
      const pieces = new PieceCounts();
      pieces.add(randomCorpus(next, ['a', 'b', 'c', 'd', '中', '文', 'ab'], 300));
      const tokenizer = trainTokenizer(pieces, { vocabSize: minVocabSize() + 120 });
      expect(tokenizer.model.merges).toEqual(referenceMerges(pieces.counts, 120, 3));
    }
  });
  it('puts the special tokens at ids 0, 1, 2 and the bytes after them', () => {
    const pieces = new PieceCounts();
    pieces.add('the quick brown fox jumps over the lazy dog; 敏捷的棕色狐狸跳过了懒狗');
    const tokenizer = trainTokenizer(pieces, { vocabSize: 270 });
    expect(['<|endoftext|>', '<|im_start|>', '<|im_end|>'].map((s) => tokenizer.specialId(s))).toEqual([0, 1, 2]);
    expect(tokenizer.model.tokens.slice(3, 259)).toEqual(BYTE_TO_CHAR);
    expect(tokenizer.model.tokens.slice(259)).toEqual(tokenizer.model.merges.map(([a, b]) => a + b));
    expect(tokenizer.vocabSize).toBe(270);
  });
  it('skips special tokens in the training text', () => {
    const pieces = new PieceCounts();
    pieces.add('<|endoftext|>'.repeat(100) + 'ab');
    expect([...pieces.counts.keys()]).toEqual(['ab']);
  });
  it('stops early when no pair is left and rejects too small a vocabulary', () => {
    const pieces = new PieceCounts();
    pieces.add('ab');
    expect(trainTokenizer(pieces, { vocabSize: 1000 }).vocabSize).toBe(260);
    expect(() => trainTokenizer(pieces, { vocabSize: 258 })).toThrow('vocab size: 258 is too small, expected an integer >= 259 (256 bytes + 3 special tokens)');
  });
});
