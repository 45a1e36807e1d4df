// Our encoder against Hugging Face `tokenizers`: test/fixtures/tokenizer/make_fixtures.py wrote the ids
// HF gives for each line; we must give exactly the same, for our tokenizer and for Qwen2.5's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';

const FIXTURES = 'test/fixtures/tokenizer';
const lines = readJsonl(`${FIXTURES}/lines.jsonl`).map((row) => (row as { text: string }).text);

function readJsonl(file: string): unknown[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
}

const tokenizers = {
  default: () => loadTokenizer('datasets/tokenizer'),
  qwen2_5: () => loadTokenizer(`${FIXTURES}/qwen2_5.tokenizer.json.gz`),
};

describe.each(Object.entries(tokenizers))('%s tokenizer matches Hugging Face tokenizers', (name, load) => {
  const tokenizer = load();
  const expected = readJsonl(`${FIXTURES}/${name}.ids.jsonl`) as number[][];

  it(`has fixtures for all ${lines.length} lines`, () => {
    expect(lines.length).toBeGreaterThanOrEqual(500);
    expect(expected.length).toBe(lines.length);
  });

  it('encodes every line to the same ids', () => {
    const mismatches = lines.flatMap((line, i) => {
      const ids = tokenizer.encode(line);
      return JSON.stringify(ids) === JSON.stringify(expected[i]) ? [] : [{ line: i + 1, text: line.slice(0, 60), ids: ids.slice(0, 20), hf: expected[i]!.slice(0, 20) }];
    });
    expect(mismatches).toEqual([]);
  });

  it('decodes every line back (after the normalization the file asks for)', () => {
    const normalize = name === 'qwen2_5' ? (s: string) => s.normalize('NFC') : (s: string) => s;
    for (const line of lines) expect(tokenizer.decode(tokenizer.encode(line))).toBe(normalize(line));
  });
});
