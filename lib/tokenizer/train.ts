// Training byte-level BPE. Pre-tokenize the corpus and count each distinct piece once (a corpus has far
// fewer distinct pieces than pieces). Start from the 256 bytes; repeatedly merge the most frequent
// adjacent pair into a new token. Pair counts are updated only where a merge happens, and a max-heap
// finds the next best pair, so no merge recounts the corpus.
import { BYTE_TO_CHAR } from './bytes.js';
import { BpeModel, PAIR_STRIDE } from './bpe.js';
import { MinHeap } from './heap.js';
import { defaultPreTokenizer, defaultPreTokenizerJson, type PreTokenizer } from './pretokenize.js';
import { DEFAULT_SPECIALS, SpecialMatcher } from './special.js';
import { Tokenizer } from './tokenizer.js';

/** Progress of training, for a progress bar. */
export interface TrainProgress {
  merges: number;
  totalMerges: number;
  /** How often the newest merge occurred in the corpus. */
  count: number;
}

/** Options of trainTokenizer. */
export interface TrainOptions {
  /** Final vocabulary size, special tokens and the 256 bytes included. */
  vocabSize: number;
  /** Special tokens, given ids 0, 1, … (default: <|endoftext|>, <|im_start|>, <|im_end|>). */
  specials?: readonly string[];
  onProgress?: (p: TrainProgress) => void;
}

/** Counts of distinct pre-tokenized pieces: the corpus as BPE training sees it. */
export class PieceCounts {
  readonly counts = new Map<string, number>();
  private readonly preTokenizer: PreTokenizer = defaultPreTokenizer();
  private readonly matcher: SpecialMatcher;

  constructor(specials: readonly string[] = DEFAULT_SPECIALS) {
    this.matcher = new SpecialMatcher(specials.map((content, id) => ({ id, content })));
  }

  /** Count the pieces of a text (special tokens in it are skipped: they are never merged). */
  add(text: string): void {
    for (const segment of this.matcher.split(text)) {
      if (typeof segment === 'number') continue;
      for (const piece of this.preTokenizer(segment)) this.counts.set(piece, (this.counts.get(piece) ?? 0) + 1);
    }
  }
}

/** Smallest vocabulary: the special tokens and the 256 bytes. */
export function minVocabSize(specials: readonly string[] = DEFAULT_SPECIALS): number {
  return specials.length + 256;
}

/** Train a tokenizer on counted pieces. */
export function trainTokenizer(pieces: PieceCounts, options: TrainOptions): Tokenizer {
  const specials = options.specials ?? DEFAULT_SPECIALS;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < minVocabSize(specials)) {
    throw new Error(`vocab size: ${options.vocabSize} is too small, expected an integer >= ${minVocabSize(specials)} (256 bytes + ${specials.length} special tokens)`);
  }
  // ids: specials, then the bytes in byte order, then one per merge.
  const tokens: string[] = [...specials, ...BYTE_TO_CHAR];
  const firstByte = specials.length;
  const words = new Words(pieces.counts, firstByte);
  const merges: [string, string][] = [];
  const totalMerges = options.vocabSize - tokens.length;
  const heap = new MinHeap(); // key -count: the most frequent pair first; ties: the smaller pair key
  for (const [key, count] of words.pairCount) heap.push(-count, key, count);

  while (merges.length < totalMerges && heap.size > 0) {
    const key = heap.peekTie(), count = heap.peekValue();
    heap.pop();
    if (words.pairCount.get(key) !== count) continue; // stale: the count changed since this entry
    const left = Math.floor(key / PAIR_STRIDE), right = key % PAIR_STRIDE;
    const id = tokens.length;
    tokens.push(tokens[left]! + tokens[right]!);
    merges.push([tokens[left]!, tokens[right]!]);
    for (const changed of words.merge(left, right, id)) {
      const c = words.pairCount.get(changed);
      if (c !== undefined) heap.push(-c, changed, c);
    }
    if (options.onProgress && (merges.length % 100 === 0 || merges.length === totalMerges)) {
      options.onProgress({ merges: merges.length, totalMerges, count });
    }
  }
  const specialTokens = specials.map((content, id) => ({ id, content }));
  return new Tokenizer({
    model: new BpeModel({ tokens, merges }),
    specials: specialTokens,
    preTokenizer: defaultPreTokenizer(),
    normalizer: null,
    json: { normalizer: null, pre_tokenizer: defaultPreTokenizerJson() },
  });
}

/**
 * The distinct pieces as token-id sequences in one flat array, with the count of every adjacent pair
 * and, per pair, the pieces it occurs in (a list that may hold stale entries; merge() checks).
 */
class Words {
  readonly pairCount = new Map<number, number>();
  private readonly pairWords = new Map<number, number[]>();
  private readonly sym: Int32Array; // all pieces' ids, piece w at [start[w], start[w] + length[w])
  private readonly start: Int32Array;
  private readonly length: Int32Array;
  private readonly count: Float64Array;
  private readonly seen: Int32Array; // seen[w] = the last merge that visited piece w
  private mergeNumber = 0;

  constructor(counts: Map<string, number>, firstByte: number) {
    const encoder = new TextEncoder();
    const encoded = [...counts.keys()].map((p) => encoder.encode(p));
    const n = encoded.length;
    this.start = new Int32Array(n);
    this.length = new Int32Array(n);
    this.count = new Float64Array(counts.values());
    this.seen = new Int32Array(n).fill(-1);
    this.sym = new Int32Array(encoded.reduce((sum, b) => sum + b.length, 0));
    let at = 0;
    encoded.forEach((bytes, w) => {
      this.start[w] = at;
      this.length[w] = bytes.length;
      for (const b of bytes) this.sym[at++] = firstByte + b;
      for (let i = this.start[w]!; i + 1 < at; i++) this.addPair(this.sym[i]!, this.sym[i + 1]!, this.count[w]!, w);
    });
  }

  /** Merge every occurrence of (left, right) into `id`; return the keys of pairs whose count changed. */
  merge(left: number, right: number, id: number): Set<number> {
    const key = left * PAIR_STRIDE + right;
    const changed = new Set<number>();
    const words = this.pairWords.get(key) ?? [];
    this.pairWords.delete(key);
    this.mergeNumber++;
    for (const w of words) {
      if (this.seen[w] === this.mergeNumber) continue;
      this.seen[w] = this.mergeNumber;
      const s = this.start[w]!, end = s + this.length[w]!, c = this.count[w]!;
      // Rewrite the piece in place. At each occurrence only its neighbours' pairs change:
      // (prev, left) becomes (prev, id) and (right, next) becomes (id, next). `prev` is read from the
      // rewritten part, so back-to-back occurrences (a b a b) are counted right.
      let write = s;
      for (let read = s; read < end; ) {
        if (read + 1 < end && this.sym[read] === left && this.sym[read + 1] === right) {
          if (write > s) {
            const prev = this.sym[write - 1]!;
            this.addPair(prev, left, -c, w, changed);
            this.addPair(prev, id, c, w, changed);
          }
          if (read + 2 < end) {
            const next = this.sym[read + 2]!;
            this.addPair(right, next, -c, w, changed);
            this.addPair(id, next, c, w, changed);
          }
          this.sym[write++] = id;
          read += 2;
        } else {
          this.sym[write++] = this.sym[read++]!;
        }
      }
      this.length[w] = write - s;
    }
    this.pairCount.delete(key); // every occurrence is merged
    changed.delete(key);
    return changed;
  }

  private addPair(a: number, b: number, delta: number, w: number, changed?: Set<number>): void {
    const key = a * PAIR_STRIDE + b;
    const count = (this.pairCount.get(key) ?? 0) + delta;
    if (count > 0) this.pairCount.set(key, count);
    else this.pairCount.delete(key);
    changed?.add(key);
    if (delta > 0) {
      const list = this.pairWords.get(key);
      if (list === undefined) this.pairWords.set(key, [w]);
      else if (list[list.length - 1] !== w) list.push(w);
    }
  }
}
