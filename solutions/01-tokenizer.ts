// Solutions 01: the three steps of BPE on strings of symbols.

/** The key of a pair of adjacent symbols in countPairs' result (symbols never contain '\t'). */
export function pairKey(a: string, b: string): string {
  return `${a}\t${b}`;
}

/** Count adjacent pairs over a corpus of words, each word given as its symbols and how often it occurs. */
export function countPairs(words: [symbols: string[], count: number][]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [symbols, count] of words) {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = pairKey(symbols[i]!, symbols[i + 1]!);
      counts.set(key, (counts.get(key) ?? 0) + count);
    }
  }
  return counts;
}

/** Replace every occurrence of the pair (a, b) by a + b, scanning left to right. */
export function applyMerge(symbols: string[], a: string, b: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
      out.push(a + b);
      i++; // b is used up
    } else {
      out.push(symbols[i]!);
    }
  }
  return out;
}

/** Encode a word: repeatedly apply the lowest-ranked merge present until none is. */
export function encodeWord(word: string, merges: [string, string][]): string[] {
  const rank = new Map(merges.map(([a, b], r) => [pairKey(a, b), r]));
  let symbols = [...word];
  for (;;) {
    let best: [string, string] | null = null;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const r = rank.get(pairKey(symbols[i]!, symbols[i + 1]!));
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = [symbols[i]!, symbols[i + 1]!];
      }
    }
    if (best === null) return symbols;
    symbols = applyMerge(symbols, best[0], best[1]);
  }
}
