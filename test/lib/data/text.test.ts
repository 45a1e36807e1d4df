import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readDocuments } from '../../../lib/data/documents.js';
import { readTextFile } from '../../../lib/data/text.js';

const dir = mkdtempSync(join(tmpdir(), 'text-'));

async function readAll(file: string) {
  const pieces: string[] = [];
  const stats = await readTextFile(file, (t) => pieces.push(t));
  return { text: pieces.join(''), pieces, stats };
}

describe('readTextFile', () => {
  it('replaces and counts invalid UTF-8, but not a U+FFFD the file really contains', async () => {
    const file = join(dir, 'bad.txt');
    writeFileSync(file, Buffer.concat([Buffer.from('ok \ufffd 中'), Buffer.from([0xff, 0xfe]), Buffer.from('\n'), Buffer.from([0xe4, 0xb8]), Buffer.from(' end')]));
    const { text, stats } = await readAll(file);
    expect(text).toBe('ok \ufffd 中\ufffd\ufffd\n\ufffd end');
    expect(stats).toEqual({ bytes: 19, invalid: 3 });
  });

  it('counts a literal U+FFFD that straddles two read blocks once, as text', async () => {
    const file = join(dir, 'straddle.txt');
    const head = Buffer.alloc((1 << 20) - 1, 'a');
    writeFileSync(file, Buffer.concat([head, Buffer.from('\ufffd\n')]));
    const { stats, text } = await readAll(file);
    expect(stats.invalid).toBe(0);
    expect(text.endsWith('a\ufffd\n')).toBe(true);
  });

  it('reads gzip files and hands over text that ends at line breaks', async () => {
    const file = join(dir, 'lines.txt.gz');
    const lines = Array.from({ length: 200_000 }, (_, i) => `第${i}行 line ${i}`).join('\n');
    writeFileSync(file, gzipSync(lines));
    const { text, pieces, stats } = await readAll(file);
    expect(text).toBe(lines);
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.slice(0, -1).every((p) => p.endsWith('\n'))).toBe(true);
    expect(stats.bytes).toBe(Buffer.byteLength(lines));
  });

  it('names a missing file', async () => {
    await expect(readTextFile(join(dir, 'nope.txt'), () => {})).rejects.toThrow(`${join(dir, 'nope.txt')}: no such file, expected a text file`);
  });
});

describe('readDocuments', () => {
  it('reads {"text"} JSONL and reports malformed lines by file:line, skipping them', async () => {
    const file = join(dir, 'docs.jsonl');
    writeFileSync(file, ['{"text": "一"}', '{"text": 2}', 'not json', '', '{"title": "x"}', '[1]', '{"text": "二\\n三"}'].join('\n'));
    const docs: string[] = [];
    const stats = await readDocuments(file, (d) => docs.push(d));
    expect(docs).toEqual(['一', '二\n三']);
    expect(stats.documents).toBe(2);
    expect(stats.malformed).toBe(4);
    expect(stats.malformedExamples).toEqual([
      `${file}:2: field "text": a number, expected a string`,
      expect.stringMatching(new RegExp(`^${file}:3: not valid JSON`)),
      `${file}:5: field "text": missing, expected a string`,
      `${file}:6: expected an object {"text": …}`,
    ]);
  });

  it('treats other files as plain text', async () => {
    const file = join(dir, 'plain.txt');
    writeFileSync(file, '{"text": "kept as is"}\n');
    const docs: string[] = [];
    await readDocuments(file, (d) => docs.push(d));
    expect(docs).toEqual(['{"text": "kept as is"}\n']);
  });
});
