import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { EncodePool } from '../../../lib/data/encode-pool.js';
import { BatchLoader, TokenStream } from '../../../lib/data/loader.js';
import { prepareShards } from '../../../lib/data/prepare.js';
import { readShardIndex, shardDtype } from '../../../lib/data/shards.js';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';

const tokenizer = loadTokenizer('datasets/tokenizer');
const eot = tokenizer.specialId('<|endoftext|>');
const dir = mkdtempSync(join(tmpdir(), 'shards-'));
const docs = Array.from({ length: 40 }, (_, i) => `第${i}篇：床前明月光，疑是地上霜。Document ${i} says hello.`);

function jsonl(name: string, lines: string[], gz = false): string {
  const file = join(dir, name);
  const text = `${lines.join('\n')}\n`;
  writeFileSync(file, gz ? gzipSync(text) : text);
  return file;
}

function shardTokens(out: string, file: string): number[] {
  const bytes = readFileSync(join(out, file));
  return Array.from(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2));
}

describe('prepareShards', () => {
  it('writes every document as its ids followed by <|endoftext|>, split exactly by --val-fraction', async () => {
    const out = join(dir, 'plain');
    const index = await prepareShards({ files: [jsonl('docs.jsonl.gz', docs.map((text) => JSON.stringify({ text })), true)], tokenizer, out, valFraction: 0.1, shardTokens: 300 });
    expect(index.documents).toEqual({ train: 36, val: 4 });
    expect(index.dtype).toBe('uint16');
    // Documents 9, 19, 29, 39 go to val (floor((i+1)/10) > floor(i/10)).
    const expected = (keep: (i: number) => boolean) => docs.flatMap((d, i) => (keep(i) ? [...tokenizer.encode(d), eot] : []));
    const isVal = (i: number) => i % 10 === 9;
    expect(index.train.length).toBeGreaterThan(1); // several 300-token shards
    expect(index.train.flatMap((s) => shardTokens(out, s.file))).toEqual(expected((i) => !isVal(i)));
    expect(index.val.flatMap((s) => shardTokens(out, s.file))).toEqual(expected(isVal));
    expect(readShardIndex(out)).toEqual(index);
    expect(loadTokenizer(out).vocabSize).toBe(tokenizer.vocabSize);
  });

  it('skips malformed JSONL lines and reports each by file:line, keeping the good ones', async () => {
    const file = jsonl('bad.jsonl', [JSON.stringify({ text: 'good one' }), '{"text": broken', JSON.stringify({ title: 'x' }), '', JSON.stringify({ text: 7 }), JSON.stringify({ text: 'good two' })]);
    const index = await prepareShards({ files: [file], tokenizer, out: join(dir, 'bad'), valFraction: 0 });
    expect(index.sources[0]).toMatchObject({ documents: 2, malformed: 3 });
    expect(index.sources[0]!.malformedExamples).toEqual([
      expect.stringMatching(new RegExp(`^${file.replace(/[.\\/]/g, '\\$&')}:2: not valid JSON`)),
      `${file}:3: field "text": missing, expected a string`,
      `${file}:5: field "text": a number, expected a string`,
    ]);
    expect(shardTokens(join(dir, 'bad'), index.train[0]!.file)).toEqual([...tokenizer.encode('good one'), eot, ...tokenizer.encode('good two'), eot]);
  });

  it('treats a plain text file as one document and refuses to overwrite a shard directory', async () => {
    const file = join(dir, 'book.txt');
    writeFileSync(file, '第一行\n第二行\n');
    const out = join(dir, 'text');
    const index = await prepareShards({ files: [file], tokenizer, out, valFraction: 0 });
    expect(shardTokens(out, index.train[0]!.file)).toEqual([...tokenizer.encode('第一行\n第二行\n'), eot]);
    await expect(prepareShards({ files: [file], tokenizer, out })).rejects.toThrow(`${out}: already holds shards (index.json)`);
  });

  it('gives the same shards with worker threads as on one thread', async () => {
    const file = jsonl('many.jsonl', Array.from({ length: 3000 }, (_, i) => JSON.stringify({ text: `${docs[i % 40]} ${i}` })));
    const pool = new EncodePool('datasets/tokenizer', 2);
    try {
      const a = await prepareShards({ files: [file], tokenizer, out: join(dir, 'one') });
      const b = await prepareShards({ files: [file], tokenizer, out: join(dir, 'pool'), encode: pool.encode, inFlight: 4 });
      expect(b.train).toEqual(a.train);
      expect(shardTokens(join(dir, 'pool'), b.train[0]!.file)).toEqual(shardTokens(join(dir, 'one'), a.train[0]!.file));
    } finally {
      await pool.close();
    }
  });

  it('stores ids in 2 bytes up to 65,536 tokens, 4 beyond', () => {
    expect([shardDtype(6400), shardDtype(65_536), shardDtype(151_643)]).toEqual(['uint16', 'uint16', 'uint32']);
  });

  it('names a missing index and a missing shard', async () => {
    expect(() => readShardIndex(dir)).toThrow(`${dir}: no index.json, expected a directory made by \`tinyllm data prepare\``);
    const out = join(dir, 'broken');
    const index = await prepareShards({ files: [jsonl('b.jsonl', docs.map((text) => JSON.stringify({ text })))], tokenizer, out, valFraction: 0 });
    writeFileSync(join(out, 'index.json'), JSON.stringify({ ...index, train: [...index.train, { file: 'train-00009.bin', tokens: 5 }] }));
    expect(() => readShardIndex(out)).toThrow(`${join(out, 'index.json')}: train: train-00009.bin is listed but missing`);
  });
});

describe('BatchLoader', () => {
  it('cuts the stream into packed windows, targets shifted by one, each window once per epoch in a seeded order', async () => {
    const out = join(dir, 'loader');
    await prepareShards({ files: [jsonl('l.jsonl', docs.map((text) => JSON.stringify({ text })))], tokenizer, out, valFraction: 0, shardTokens: 100 });
    const stream = new TokenStream(out, 'train');
    const all = new Int32Array(stream.length);
    stream.read(0, all);
    const T = 8;
    // Every window [w·T, w·T + T] of the stream, as text, to compare as multisets.
    const windows = Array.from({ length: Math.floor((all.length - 1) / T) }, (_, w) => Array.from(all.subarray(w * T, w * T + T + 1)).join());
    const loader = new BatchLoader(stream, 1, T, 42);
    expect(loader.windows).toBe(windows.length);
    const rows = Array.from({ length: loader.windows }, () => {
      const { inputs, targets } = loader.next();
      expect(Array.from(targets.subarray(0, T - 1))).toEqual(Array.from(inputs.subarray(1))); // shifted by one
      return [...inputs, targets[T - 1]!].join();
    });
    expect([...rows].sort()).toEqual([...windows].sort()); // each window exactly once per epoch
    expect(rows).not.toEqual(windows); // …in a shuffled order
    expect(loader.position).toEqual({ epoch: 0, cursor: loader.windows });
    const B = 3;
    const again = new BatchLoader(stream, B, T, 42), other = new BatchLoader(stream, B, T, 43);
    const first = again.next().inputs;
    expect(Array.from(first)).toEqual(Array.from(new BatchLoader(stream, B, T, 42).next().inputs));
    expect(Array.from(other.next().inputs)).not.toEqual(Array.from(first));
    stream.close();
  });

  it('resumes from a saved position with the same batches, across an epoch boundary', async () => {
    const stream = new TokenStream(join(dir, 'loader'), 'train');
    const a = new BatchLoader(stream, 4, 8, 7);
    const straight = Array.from({ length: 60 }, () => Array.from(a.next().inputs));
    const b = new BatchLoader(stream, 4, 8, 7);
    for (let i = 0; i < 25; i++) b.next();
    const skipping = new BatchLoader(stream, 4, 8, 7);
    for (let i = 0; i < 25; i++) skipping.skipBatch(); // moves as next() does, reading nothing (other ranks' batches)
    expect(skipping.position).toEqual(b.position);
    const c = new BatchLoader(stream, 4, 8, 7);
    c.seek(JSON.parse(JSON.stringify(b.position)));
    expect(Array.from({ length: 35 }, () => Array.from(c.next().inputs))).toEqual(straight.slice(25));
    expect(c.position.epoch).toBeGreaterThan(0);
    stream.close();
  });

  it('says when the data is too small for one batch', async () => {
    const stream = new TokenStream(join(dir, 'loader'), 'train');
    expect(() => new BatchLoader(stream, 1000, 64)).toThrow(/loader: the train split has \d+ tokens, \d+ window\(s\) of 65, fewer than the batch of 1000; use a smaller --batch or --seq, or more data$/);
    stream.close();
  });
});
