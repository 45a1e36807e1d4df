// Tokenizer benchmark: training time (vocab 6,400 on 10 MB, vocab 32,000 on 100 MB of mixed
// Chinese/English) and encode throughput of ours vs Hugging Face `tokenizers` (one thread) on the same
// tokenizer.json and text. Prints figures; passes or fails nothing.
//
//   npx tsx bench/tokenizer.ts [--big <more text files…>]
// The shipped corpus is ~43 MB; --big adds text files (plain or {"text"} JSONL, .gz ok) to reach 100 MB
// for the 32k run, which is skipped without them. Needs .venv with tokenizers (pip install tokenizers).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatSeconds } from '../lib/cli/progress.js';
import { readDocuments } from '../lib/data/documents.js';
import { loadTokenizer, saveTokenizer } from '../lib/tokenizer/files.js';
import { PieceCounts, trainTokenizer } from '../lib/tokenizer/train.js';
import type { Tokenizer } from '../lib/tokenizer/tokenizer.js';

const CORPUS = ['zh-modern', 'zh-classical', 'en'].map((n) => `datasets/corpus/${n}.jsonl.gz`);
const bigFlag = process.argv.indexOf('--big');
const big = bigFlag > 0 ? process.argv.slice(bigFlag + 1) : [];

/** Documents from the files, always from the one with the fewest bytes taken so far, until `megabytes`:
 * an even mix by bytes of every source (its documents in order) while each lasts. */
async function mixedText(files: string[], megabytes: number): Promise<string[]> {
  const sources = await Promise.all(files.map(async (f) => {
    const docs: string[] = [];
    await readDocuments(f, (d) => docs.push(d));
    return { docs, next: 0, bytes: 0 };
  }));
  const out: string[] = [];
  let total = 0;
  for (;;) {
    const open = sources.filter((s) => s.next < s.docs.length);
    if (open.length === 0 || total >= megabytes * 1e6) return out;
    const source = open.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    const doc = source.docs[source.next++]!;
    source.bytes += Buffer.byteLength(doc);
    total += Buffer.byteLength(doc);
    out.push(doc);
  }
}

function megabytesOf(docs: string[]): number {
  return docs.reduce((n, d) => n + Buffer.byteLength(d), 0) / 1e6;
}

function timeTraining(docs: string[], vocabSize: number): { seconds: number; tokenizer: Tokenizer } {
  const start = performance.now();
  const pieces = new PieceCounts();
  for (const d of docs) pieces.add(d);
  const counted = performance.now();
  const tokenizer = trainTokenizer(pieces, { vocabSize });
  const seconds = (performance.now() - start) / 1000;
  console.log(`train vocab ${vocabSize} on ${megabytesOf(docs).toFixed(1)} MB: ${formatSeconds(seconds)} ` +
    `(counting ${((counted - start) / 1000).toFixed(1)} s, ${pieces.counts.size} distinct pieces; merging ${((performance.now() - counted) / 1000).toFixed(1)} s)`);
  return { seconds, tokenizer };
}

function encodeThroughput(tokenizer: Tokenizer, docs: string[]): { mbs: number; tokens: number } {
  const run = () => docs.reduce((n, d) => n + tokenizer.encode(d).length, 0);
  run(); // warm-up, as for HF: fills the piece cache
  const start = performance.now();
  const tokens = run();
  return { mbs: megabytesOf(docs) / ((performance.now() - start) / 1000), tokens };
}

const tmp = mkdtempSync(join(tmpdir(), 'bench-tok-'));
const ten = await mixedText(CORPUS, 10);
const { tokenizer: trained } = timeTraining(ten, 6400);

if (big.length > 0) {
  const hundred = await mixedText([...CORPUS, ...big], 100);
  if (megabytesOf(hundred) < 99) console.log(`(only ${megabytesOf(hundred).toFixed(1)} MB available for the 100 MB run)`);
  timeTraining(hundred, 32000);
} else {
  console.log('train vocab 32000 on 100 MB: skipped (give --big <files> to add text beyond the 43 MB corpus)');
}

const docsFile = join(tmp, 'docs.jsonl');
writeFileSync(docsFile, ten.map((text) => JSON.stringify({ text })).join('\n') + '\n');
saveTokenizer(trained, join(tmp, 'trained'));
const cases: [string, Tokenizer, string][] = [
  ['ours, 6.4k (trained above)', trained, join(tmp, 'trained', 'tokenizer.json')],
  ['Qwen2.5, 151k', loadTokenizer('test/fixtures/tokenizer/qwen2_5.tokenizer.json.gz'), 'test/fixtures/tokenizer/qwen2_5.tokenizer.json.gz'],
];
console.log(`\nencode ${megabytesOf(ten).toFixed(1)} MB, one thread (MB/s)       ours   HF loop   HF batch`);
for (const [name, tokenizer, file] of cases) {
  const ours = encodeThroughput(tokenizer, ten);
  const hf = JSON.parse(execFileSync('.venv/bin/python', ['bench/tokenizer_hf.py', file, docsFile], { encoding: 'utf8' }));
  if (hf.tokens !== ours.tokens) console.log(`  warning: token counts differ (ours ${ours.tokens}, HF ${hf.tokens})`);
  console.log(`  ${name.padEnd(40)} ${ours.mbs.toFixed(2).padStart(6)} ${hf.loop_mb_s.toFixed(2).padStart(9)} ${hf.batch_1thread_mb_s.toFixed(2).padStart(10)}   (${ours.tokens} tokens)`);
}
