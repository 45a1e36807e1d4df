// Perplexity of held-out text, and bits per byte. A document longer than the model's context is read
// through a sliding window: each window predicts the tokens the previous ones did not, seeing up to
// `window` tokens before them; a stride below the window gives every prediction more context (closer to
// the true perplexity) at the cost of more passes (Hugging Face's "perplexity of fixed-length models").
//
// Perplexity depends on the tokenizer (a tokenizer with longer tokens makes fewer, harder predictions);
// bits per byte, the same total surprise divided by the text's UTF-8 bytes, does not.
import type { LlamaModel } from '../model/model.js';
import { ENDOFTEXT } from '../tokenizer/special.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { tokenLogProbsOfRows } from './logprobs.js';

/** A document as scored: <|endoftext|> (a document start, as in pretraining) then its ids; and its size. */
export interface PplDocument {
  ids: number[];
  /** UTF-8 bytes of the text. */
  bytes: number;
}

/** Surprise over some text. */
export interface PplResult {
  /** Tokens predicted (every id after the leading <|endoftext|>). */
  tokens: number;
  bytes: number;
  /** Negative log-likelihood, summed, in nats. */
  nll: number;
  /** nll / tokens. */
  loss: number;
  /** exp(loss). */
  ppl: number;
  /** nll / ln 2 / bytes. */
  bpb: number;
}

/** Options of evaluatePerplexity. */
export interface PplOptions {
  /** Most tokens a window feeds the model (default: the model's context). */
  window?: number;
  /** How far the window moves (default: the window: no overlap). */
  stride?: number;
  /** Windows per forward pass. */
  batch: number;
  onProgress?: (done: number, total: number) => void;
}

/** One window: the ids [begin, end) go in; the predictions of ids [from, end) count. */
export interface PplWindow {
  begin: number;
  end: number;
  from: number;
}

/** A text as a document to score. */
export function pplDocument(tokenizer: Tokenizer, text: string): PplDocument {
  return { ids: [tokenizer.specialId(ENDOFTEXT), ...tokenizer.encode(text)], bytes: Buffer.byteLength(text, 'utf8') };
}

/** The windows over n ids that predict each of ids 1…n−1 once, each seeing at most `window` ids. */
export function slidingWindows(n: number, window: number, stride: number): PplWindow[] {
  if (!(Number.isInteger(stride) && stride >= 1 && stride <= window)) throw new Error(`--stride: ${stride}, expected a whole number from 1 to the window (${window})`);
  const windows: PplWindow[] = [];
  let predicted = 1; // ids before this one are predicted (id 0 never is)
  for (let begin = 0; begin < n - 1; begin += stride) {
    const end = Math.min(begin + window + 1, n);
    windows.push({ begin, end, from: predicted });
    predicted = end;
    if (end === n) break;
  }
  return windows;
}

/** Totals over some of the documents' figures. */
export function pplResult(tokens: number, bytes: number, nll: number): PplResult {
  const loss = nll / tokens;
  return { tokens, bytes, nll, loss, ppl: Math.exp(loss), bpb: nll / Math.LN2 / bytes };
}

/** Perplexity and bits per byte of each document and of all of them. */
export function evaluatePerplexity(model: LlamaModel, documents: readonly PplDocument[], options: PplOptions): { documents: PplResult[]; total: PplResult } {
  const window = options.window ?? model.config.maxSeq;
  if (!(Number.isInteger(window) && window >= 1 && window <= model.config.maxSeq)) throw new Error(`--window: ${window}, expected a whole number from 1 to the model's context (${model.config.maxSeq})`);
  const windows = documents.flatMap((doc, d) => slidingWindows(doc.ids.length, window, options.stride ?? window).map((w) => ({ ...w, d })));
  const logProbs = tokenLogProbsOfRows(model, windows.map((w) => documents[w.d]!.ids.slice(w.begin, w.end)), options.batch, (done) => options.onProgress?.(done, windows.length));
  const nll = new Float64Array(documents.length);
  windows.forEach((w, i) => {
    // logProbs[i][k] is the prediction of id begin + 1 + k.
    for (let k = w.from - w.begin - 1; k < w.end - w.begin - 1; k++) nll[w.d]! -= logProbs[i]![k]!;
  });
  const results = documents.map((doc, d) => pplResult(doc.ids.length - 1, doc.bytes, nll[d]!));
  const sum = (key: 'tokens' | 'bytes' | 'nll') => results.reduce((a, r) => a + r[key], 0);
  return { documents: results, total: pplResult(sum('tokens'), sum('bytes'), sum('nll')) };
}
