// The BPE model: a vocabulary of byte-level tokens and a ranked list of merges. Encoding a piece starts
// from its bytes and applies the lowest-ranked merge present, again and again, until none applies.
import { BYTE_TO_CHAR, fromByteLevel, toByteLevel } from './bytes.js';
import { MinHeap } from './heap.js';

/** Pairs of token ids are keyed as one number: left * PAIR_STRIDE + right (exact below 2^53). */
export const PAIR_STRIDE = 2 ** 21;

const CACHE_LIMIT = 200_000;

/** Vocabulary and merges of a byte-level BPE model. */
export interface BpeSpec {
  /** Token strings (byte-level form) by id; ids with no token are null (e.g. reserved for specials). */
  tokens: (string | null)[];
  /** Merges in rank order, as pairs of token strings. */
  merges: [string, string][];
  /** If true, a piece found whole in the vocabulary is one token (HF's ignore_merges, Llama 3). */
  ignoreMerges?: boolean;
}

/** A byte-level BPE model ready to encode pieces. */
export class BpeModel {
  readonly tokens: (string | null)[];
  readonly merges: [string, string][];
  readonly ignoreMerges: boolean;
  private readonly ids = new Map<string, number>();
  /** Merge rank by pair key; mergeResult[rank] is the id the pair becomes. */
  private readonly rankOf = new Map<number, number>();
  private readonly mergeResult: Int32Array;
  private readonly byteIds = new Int32Array(256);
  private readonly cache = new Map<string, number[]>();
  // Scratch space for encodePiece, grown as needed.
  private sym = new Int32Array(256);
  private next = new Int32Array(256);
  private prev = new Int32Array(256);
  private readonly heap = new MinHeap();
  private readonly utf8 = new TextEncoder();

  constructor(spec: BpeSpec, field = 'model') {
    this.tokens = spec.tokens;
    this.merges = spec.merges;
    this.ignoreMerges = spec.ignoreMerges ?? false;
    spec.tokens.forEach((t, id) => {
      if (t === null) return;
      if (this.ids.has(t)) throw new Error(`${field}.vocab: token '${t}' has two ids, ${this.ids.get(t)} and ${id}`);
      this.ids.set(t, id);
    });
    BYTE_TO_CHAR.forEach((ch, b) => {
      const id = this.ids.get(ch);
      if (id === undefined) throw new Error(`${field}.vocab: byte 0x${b.toString(16).padStart(2, '0')} ('${ch}') has no token, expected all 256 bytes`);
      this.byteIds[b] = id;
    });
    this.mergeResult = new Int32Array(spec.merges.length);
    spec.merges.forEach(([a, b], rank) => {
      const left = this.ids.get(a), right = this.ids.get(b), merged = this.ids.get(a + b);
      if (left === undefined || right === undefined || merged === undefined) {
        const missing = left === undefined ? a : right === undefined ? b : a + b;
        throw new Error(`${field}.merges[${rank}]: '${a} ${b}' uses '${missing}', which is not in ${field}.vocab`);
      }
      const key = left * PAIR_STRIDE + right;
      if (!this.rankOf.has(key)) this.rankOf.set(key, rank); // HF keeps the first of duplicate merges
      this.mergeResult[rank] = merged;
    });
  }

  /** Number of ids (the largest id + 1). */
  get size(): number {
    return this.tokens.length;
  }

  /** The id of a token string (byte-level form), if any. */
  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** The bytes of a token id. */
  tokenBytes(id: number): Uint8Array {
    const token = this.tokens[id];
    if (token === undefined || token === null) throw new Error(`token id ${id}: not in the vocabulary (size ${this.tokens.length})`);
    return fromByteLevel(token);
  }

  /** Append the ids of one pre-tokenized piece of text to `out`. */
  encodePiece(piece: string, out: number[]): void {
    const cached = this.cache.get(piece);
    if (cached !== undefined) {
      for (const id of cached) out.push(id);
      return;
    }
    const ids = this.mergePiece(piece);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, ids);
    for (const id of ids) out.push(id);
  }

  private mergePiece(piece: string): number[] {
    if (this.ignoreMerges) {
      const whole = this.ids.get(toByteLevel(piece));
      if (whole !== undefined) return [whole];
    }
    const bytes = this.utf8.encode(piece);
    const n = bytes.length;
    if (n === 0) return [];
    if (n > this.sym.length) this.growScratch(n);
    const { sym, next, prev, heap } = this;
    for (let i = 0; i < n; i++) {
      sym[i] = this.byteIds[bytes[i]!]!;
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // Every adjacent pair that has a merge goes on the heap as (rank, left position; right position).
    // Entries go stale as merges happen around them; they are checked when they come off the heap.
    heap.clear();
    for (let i = 0; i + 1 < n; i++) this.pushPair(i, i + 1);
    while (heap.size > 0) {
      const rank = heap.peekKey(), left = heap.peekTie(), right = heap.peekValue();
      heap.pop();
      if (sym[left]! < 0 || next[left] !== right || this.rankOf.get(sym[left]! * PAIR_STRIDE + sym[right]!) !== rank) continue;
      sym[left] = this.mergeResult[rank]!;
      sym[right] = -1; // right is absorbed into left
      const after = next[right]!;
      next[left] = after;
      if (after >= 0) prev[after] = left;
      if (prev[left]! >= 0) this.pushPair(prev[left]!, left);
      if (after >= 0) this.pushPair(left, after);
    }
    const ids: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) ids.push(sym[i]!);
    return ids;
  }

  private pushPair(left: number, right: number): void {
    const rank = this.rankOf.get(this.sym[left]! * PAIR_STRIDE + this.sym[right]!);
    if (rank !== undefined) this.heap.push(rank, left, right);
  }

  private growScratch(n: number): void {
    const size = Math.max(n, this.sym.length * 2);
    this.sym = new Int32Array(size);
    this.next = new Int32Array(size);
    this.prev = new Int32Array(size);
  }
}
