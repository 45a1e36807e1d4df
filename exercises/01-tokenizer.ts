// Exercises 01: the three steps of BPE on strings of symbols. Implement each, then run
// `npm run check -- 01`. Notebook 01 does the same on a tiny text; lib/tokenizer does it fast.

/** The key of a pair of adjacent symbols in countPairs' result (symbols never contain '\t'). */
export function pairKey(a: string, b: string): string {
  return `${a}\t${b}`;
}

/**
 * Count adjacent pairs over a corpus of words, each word given as its symbols and how often it occurs.
 * countPairs([[['l','o','w'], 5]]) -> Map { pairKey('l','o') => 5, pairKey('o','w') => 5 }
 */
export function countPairs(words: [symbols: string[], count: number][]): Map<string, number> {
  throw new Error('TODO: countPairs — for each word and each i, add count to the entry pairKey(symbols[i], symbols[i + 1])');
}

/**
 * Replace every occurrence of the pair (a, b) in `symbols` by the merged symbol a + b, scanning left to
 * right (so 'a','a','a' with the pair ('a','a') becomes 'aa','a').
 */
export function applyMerge(symbols: string[], a: string, b: string): string[] {
  throw new Error('TODO: applyMerge — walk i from 0; where symbols[i] === a and symbols[i + 1] === b push a + b and skip both, else push symbols[i]');
}

/**
 * Encode a word with learned merges (in rank order): start from its characters and repeatedly apply the
 * lowest-ranked merge that occurs anywhere in the word, until none does. Returns the final symbols.
 */
export function encodeWord(word: string, merges: [string, string][]): string[] {
  throw new Error('TODO: encodeWord — split into characters ([...word]); loop: find the present pair with the smallest index in merges, applyMerge it; stop when none is present');
}
