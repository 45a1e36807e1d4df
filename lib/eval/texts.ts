// The texts perplexity is measured on: a plain text file (one document), JSONL with {"text"} per line
// (gzipped or not, the pretraining format), or the validation split of prepared shards, cut back into
// documents at <|endoftext|>.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readDocuments } from '../data/documents.js';
import { TokenStream } from '../data/loader.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { pplDocument, type PplDocument } from './perplexity.js';

/** The documents of a file or shard directory (at most `limit`), and the malformed lines skipped. */
export async function readPplDocuments(path: string, tokenizer: Tokenizer, options: { split?: 'train' | 'val'; limit?: number } = {}): Promise<{ documents: PplDocument[]; skipped: number; skippedExamples: string[] }> {
  const limit = options.limit ?? Infinity;
  if (!existsSync(path)) throw new Error(`${path}: not found; expected a .txt, a .jsonl(.gz) of {"text"} or a directory made by \`tinyllm data prepare\``);
  if (statSync(path).isDirectory()) {
    if (!existsSync(join(path, 'index.json'))) throw new Error(`${path}: a directory without index.json; expected one made by \`tinyllm data prepare\``);
    return { documents: shardDocuments(path, options.split ?? 'val', tokenizer, limit), skipped: 0, skippedExamples: [] };
  }
  const documents: PplDocument[] = [];
  const stats = await readDocuments(path, (text) => {
    if (documents.length < limit) documents.push(pplDocument(tokenizer, text));
  });
  if (documents.length === 0) throw new Error(`${path}: no text to score`);
  return { documents, skipped: stats.malformed, skippedExamples: stats.malformedExamples };
}

/** A split of token shards as documents: each <|endoftext|>-ended run of ids, with that id moved to its front. */
function shardDocuments(dir: string, split: 'train' | 'val', tokenizer: Tokenizer, limit: number): PplDocument[] {
  const stream = new TokenStream(dir, split);
  try {
    const { eot, vocabSize } = stream.index;
    if (vocabSize !== tokenizer.vocabSize) throw new Error(`${dir}: shards of a ${vocabSize}-token vocabulary, but the model's tokenizer has ${tokenizer.vocabSize}`);
    const ids = new Int32Array(stream.length);
    stream.read(0, ids);
    const documents: PplDocument[] = [];
    let start = 0;
    for (let i = 0; i < ids.length && documents.length < limit; i++) {
      if (ids[i] !== eot) continue;
      const body = Array.from(ids.subarray(start, i));
      if (body.length > 0) documents.push({ ids: [eot, ...body], bytes: Buffer.byteLength(tokenizer.decode(body), 'utf8') });
      start = i + 1;
    }
    if (documents.length === 0) throw new Error(`${dir}: the ${split} split holds no documents`);
    return documents;
  } finally {
    stream.close();
  }
}
