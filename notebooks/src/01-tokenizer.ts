// %% [markdown]
// # 01 · The tokenizer: from characters to bytes to BPE
//
// A language model reads and writes **token ids**: integers from a fixed vocabulary. The tokenizer turns
// text into ids and back. Ours is a **byte-level BPE** tokenizer, the kind GPT-2, Llama 3, Qwen and
// minimind use:
//
// 1. text → **UTF-8 bytes**, so that *every* string can be encoded (no unknown characters, ever);
// 2. a **pre-tokenizer** cuts the text into pieces (words, runs of Chinese characters, digits,
//    punctuation), so that merges never cross those borders;
// 3. **BPE** (byte-pair encoding) merges the most frequent adjacent pairs into new tokens, learned
//    once from a corpus and then applied to any text.
//
// This notebook builds that up by hand, then trains the fast implementation in `lib/tokenizer/` on our
// corpus and asks what vocabulary size a small model should use.

// %%
import * as tslab from 'tslab';
import { BYTE_TO_CHAR, toByteLevel } from './lib/tokenizer/bytes.js';
import { showMarkdown, showPlotly, showVegaLite } from './lib/viz/display.js';

const hello = '你好, hi 👋';
const bytes = new TextEncoder().encode(hello);
console.log(`${[...hello].length} characters, ${hello.length} UTF-16 units, ${bytes.length} UTF-8 bytes`);
console.log('bytes:', Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' '));
console.log('byte-level form:', toByteLevel(hello));

// %% [markdown]
// A Chinese character takes 3 bytes in UTF-8 and an emoji 4. Starting from 256 byte tokens means a model
// can read and write anything, but a character-by-byte model would need three steps per Chinese
// character. BPE fixes that by learning merges: frequent byte sequences (whole characters, then common
// words) become single tokens.
//
// The byte-level form above shows each byte as a printable character (a space is `Ġ`, a newline `Ċ`):
// vocabularies store tokens this way, as GPT-2 started doing.

// %%
console.log('first 40 of the 256 byte characters:', BYTE_TO_CHAR.slice(0, 40).join(''));
console.log("space, newline, 'A', 0xe4:", [0x20, 0x0a, 0x41, 0xe4].map((b) => BYTE_TO_CHAR[b]).join(' '));

// %% [markdown]
// ## BPE by hand
//
// Take a tiny corpus, split it into words, count each distinct word once (with its frequency), and start
// every word as a list of characters. Then repeat: count adjacent pairs over all words, merge the most
// frequent pair everywhere, record the merge.

// %%
const tiny = 'low low low low low lower lower newest newest newest newest newest newest widest widest widest 低头 低头 低头 低下 低下';
const wordCounts = new Map<string, number>();
for (const w of tiny.split(' ')) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
let words = [...wordCounts].map(([w, c]) => ({ symbols: [...w], count: c }));
const learned: { pair: string; count: number; result: string }[] = [];

for (let step = 0; step < 10; step++) {
  const pairs = new Map<string, number>();
  for (const { symbols, count } of words) {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = `${symbols[i]} ${symbols[i + 1]}`;
      pairs.set(key, (pairs.get(key) ?? 0) + count);
    }
  }
  const [best, count] = [...pairs].reduce((a, b) => (b[1] > a[1] ? b : a));
  const [a, b] = best.split(' ') as [string, string];
  learned.push({ pair: `${a} + ${b}`, count, result: a + b });
  words = words.map(({ symbols, count }) => {
    const out: string[] = [];
    for (let i = 0; i < symbols.length; i++) {
      if (symbols[i] === a && symbols[i + 1] === b) out.push(a + b), i++;
      else out.push(symbols[i]!);
    }
    return { symbols: out, count };
  });
}
console.table(learned);
console.log(words.map((w) => w.symbols.join('·')).join('  '));

// %% [markdown]
// `low` and `newest`'s `est` became tokens because they are frequent; `低` + `头` merged too. To encode
// a new word, start from its characters (bytes, in the real thing) and apply the learned merges in the
// order they were learned. Exercises 01 ask you to write these three steps: counting pairs, applying a
// merge, and encoding a word.
//
// ## The fast trainer, on our corpus
//
// Recounting every pair after every merge is far too slow for megabytes of text. `lib/tokenizer/train.ts`
// counts each distinct piece once, updates pair counts only where a merge happened, and keeps pairs in a
// heap. The corpus (`datasets/corpus/`) mixes modern Chinese (Debian and LibreOffice documentation),
// classical Chinese (poetry) and English (Moby-Dick, State of the Union addresses).

// %%
import { readDocuments } from './lib/data/documents.js';

const corpus: Record<string, string[]> = {};
for (const name of ['zh-modern', 'zh-classical', 'en']) {
  const docs: string[] = [];
  await readDocuments(`datasets/corpus/${name}.jsonl.gz`, (d) => docs.push(d));
  corpus[name] = docs;
}
for (const [name, docs] of Object.entries(corpus)) {
  const chars = docs.reduce((n, d) => n + d.length, 0);
  console.log(`${name.padEnd(13)} ${String(docs.length).padStart(6)} documents ${(chars / 1e6).toFixed(2).padStart(6)}M characters`);
}

// %% [markdown]
// We keep the last documents of each part aside to measure compression on text the tokenizer has not
// seen, and train on about 2 MB of each part.

// %%
import { PieceCounts, trainTokenizer } from './lib/tokenizer/train.js';

function take(docs: string[], megabytes: number): string[] {
  const out: string[] = [];
  let bytes = 0;
  for (const d of docs) {
    if (bytes >= megabytes * 1e6) break;
    out.push(d);
    bytes += Buffer.byteLength(d);
  }
  return out;
}
const heldOut = {
  Chinese: [...corpus['zh-modern']!.slice(-200), ...corpus['zh-classical']!.slice(-2000)].join('\n'),
  English: corpus['en']!.slice(-5).join('\n'),
};
const training = Object.values(corpus).flatMap((docs) => take(docs.slice(0, -2000), 2));

let started = performance.now();
const pieces = new PieceCounts();
for (const doc of training) pieces.add(doc);
const counted = performance.now();
const tokenizer = trainTokenizer(pieces, { vocabSize: 8192 });
console.log(`${pieces.counts.size} distinct pieces counted in ${((counted - started) / 1000).toFixed(1)} s; ` +
  `${tokenizer.model.merges.length} merges learned in ${((performance.now() - counted) / 1000).toFixed(1)} s`);

// %% [markdown]
// The first merges are the most frequent pairs. In byte-level form they are hard to read, so the table
// shows the text each merged token stands for (`␠` is a space, `\n` a newline; `�` marks part of a
// multi-byte character).

// %%
const readable = (id: number) => tokenizer.idToString(id).replace(/ /g, '␠').replace(/\n/g, '\\n');
const firstMerges = tokenizer.model.merges.slice(0, 24).map(([a, b], rank) => {
  const id = tokenizer.model.tokenToId(a + b)!;
  return `| ${rank} | \`${readable(tokenizer.model.tokenToId(a)!)}\` + \`${readable(tokenizer.model.tokenToId(b)!)}\` | \`${readable(id)}\` |`;
});
showMarkdown(`| rank | pair | token |\n|---:|---|---|\n${firstMerges.join('\n')}`);

// %% [markdown]
// ## How a sentence splits
//
// Each box is one token. Compare our 8,192-token vocabulary with Qwen2.5's 151,643 tokens (its
// `tokenizer.json` ships with the tests).

// %%
import { loadTokenizer } from './lib/tokenizer/files.js';
import { Tokenizer } from './lib/tokenizer/tokenizer.js';

const qwen = loadTokenizer('test/fixtures/tokenizer/qwen2_5.tokenizer.json.gz');
const sentences = ['人工智能正在改变我们的生活方式。', '床前明月光，疑是地上霜。', 'The tokenizer splits unfamiliar words into pieces.'];

function boxes(tok: Tokenizer, text: string): string {
  // Whole characters per box: ids that end mid-character are joined with the next one.
  const spans: string[] = [];
  let pending: number[] = [];
  for (const id of tok.encode(text)) {
    pending.push(id);
    const piece = tok.decode(pending);
    if (!piece.endsWith('\ufffd')) {
      spans.push(`<span style="border:1px solid #888;border-radius:3px;padding:1px 3px;margin:1px;display:inline-block">${piece.replace(/ /g, '&nbsp;')}<sub style="color:#888">${pending.length > 1 ? pending.length : ''}</sub></span>`);
      pending = [];
    }
  }
  return spans.join('');
}
tslab.display.html(sentences.map((s) => `<p><b>ours</b> (${tokenizer.encode(s).length}): ${boxes(tokenizer, s)}<br><b>Qwen2.5</b> (${qwen.encode(s).length}): ${boxes(qwen, s)}</p>`).join(''));

// %% [markdown]
// (A small number in a box means that character needed several byte tokens.)
//
// ## Compression against vocabulary size
//
// A BPE vocabulary of size V is the first V − 259 merges of a larger one: training is deterministic and
// greedy. So one training run gives every smaller vocabulary. Fewer tokens per text means shorter
// sequences for the model: cheaper training and a longer effective context.

// %%
import { BpeModel } from './lib/tokenizer/bpe.js';
import { defaultPreTokenizer } from './lib/tokenizer/pretokenize.js';

function truncated(tok: Tokenizer, vocabSize: number): Tokenizer {
  const merges = tok.model.merges.slice(0, vocabSize - 259);
  return new Tokenizer({
    model: new BpeModel({ tokens: tok.model.tokens.slice(0, vocabSize), merges }),
    specials: [...tok.specials],
    preTokenizer: defaultPreTokenizer(),
    normalizer: null,
    json: tok.json,
  });
}

const sizes = [259, 512, 1024, 2048, 4096, 8192];
const compression = Object.entries(heldOut).map(([language, text]) => ({
  name: language,
  x: sizes,
  y: sizes.map((v) => [...text].length / truncated(tokenizer, v).encode(text).length),
}));
console.log('Qwen2.5 (151,643):', Object.entries(heldOut).map(([l, t]) => `${l} ${([...t].length / qwen.encode(t).length).toFixed(2)}`).join(', '), 'characters/token');
showPlotly(
  (await import('./lib/viz/plotly.js')).linePlot(compression, {
    title: 'held-out text: characters per token', xTitle: 'vocabulary size', yTitle: 'characters / token', logX: true,
  }),
);

// %% [markdown]
// With no merges (259 tokens) English is one character per token, and Chinese well below one: each
// Chinese character is three byte tokens (only punctuation, digits and line breaks take one). Merges
// first make common characters single tokens, then common words: Chinese passes one character per token
// after about a thousand merges, while English keeps gaining as whole words become tokens.
//
// ## Why vocabulary size matters for a small model
//
// Every token has an embedding row (hidden size numbers) and, with an untied output layer, a row in the LM
// head too. For the 92M preset (hidden 512, 8 layers, FFN 1408) the transformer blocks hold about 25.7M
// parameters; the vocabulary decides the rest:

// %%
const hidden = 512, layers = 8, ffn = 1408;
const perLayer = 4 * hidden * hidden + 3 * hidden * ffn + 2 * hidden; // attention, SwiGLU MLP, two RMSNorms
const blocks = layers * perLayer + hidden;
const shares = [6400, 32000, 64798, 151643].map((v) => ({ vocab: v.toLocaleString('en'), embedding: 2 * v * hidden, blocks }));
console.table(shares.map((s) => ({ ...s, total: s.embedding + s.blocks, 'embedding share': `${((100 * s.embedding) / (s.embedding + s.blocks)).toFixed(0)}%` })));
showVegaLite({
  data: { values: shares.flatMap((s) => [{ vocab: s.vocab, part: 'embedding + LM head', params: s.embedding / 1e6 }, { vocab: s.vocab, part: 'transformer blocks', params: s.blocks / 1e6 }]) },
  mark: 'bar',
  encoding: {
    x: { field: 'vocab', type: 'ordinal', sort: null, title: 'vocabulary size' },
    y: { field: 'params', type: 'quantitative', title: 'parameters (millions)' },
    color: { field: 'part', type: 'nominal' },
  },
  width: 320,
  height: 220,
});

// %% [markdown]
// With a 64,798-token vocabulary (ChatGLM3's, which tiny-llm-zh uses), 72% of the 92M model is lookup
// tables; with 6,400 (minimind's) it is 20%, and more of the budget goes to the layers that compute. The
// price is longer sequences. For a small model trained on a small corpus, a small vocabulary is usually
// the better trade; our default tokenizer (`datasets/tokenizer/`) has 6,400 tokens.
//
// ## Special tokens and the chat template
//
// `<|endoftext|>` separates documents; `<|im_start|>` and `<|im_end|>` frame chat messages (ChatML). They
// have their own ids and no merge can produce them. `applyChatTemplate` renders a conversation and marks
// the tokens supervised fine-tuning will train on: the assistant's reply and its `<|im_end|>`.

// %%
const shipped = loadTokenizer('datasets/tokenizer');
const chat = shipped.applyChatTemplate([
  { role: 'user', content: '床前明月光的下一句是什么？' },
  { role: 'assistant', content: '疑是地上霜。' },
]);
tslab.display.html(chat.ids.map((id, i) => {
  const text = shipped.idToString(id).replace(/\n/g, '↵').replace(/</g, '&lt;');
  return `<span style="background:${chat.assistantMask[i] ? '#c8f7c5' : '#eee'};margin:1px;padding:1px 2px">${text}</span>`;
}).join('') + '<p>green: trained on (assistant reply), grey: prompt</p>');

// %% [markdown]
// ## Exercises
//
// Open `exercises/01-tokenizer.ts` and implement `countPairs`, `applyMerge` and `encodeWord`, then run
// `npm run check -- 01`. The cell below runs your `encodeWord` with the merges learned by hand above.

// %%
import * as mine from './exercises/01-tokenizer.js';

const handMerges = learned.map((m) => m.pair.split(' + ') as [string, string]);
for (const word of ['lowest', 'newer', '低头']) {
  try {
    console.log(word.padEnd(8), mine.encodeWord(word, handMerges).join('·'));
  } catch (e) {
    console.log(word.padEnd(8), (e as Error).message.split(' — ')[0]);
  }
}
