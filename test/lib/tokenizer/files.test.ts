import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, saveTokenizer } from '../../../lib/tokenizer/files.js';

const shipped = JSON.parse(readFileSync('datasets/tokenizer/tokenizer.json', 'utf8'));

function withJson(mutate: (json: any) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'tok-'));
  const json = structuredClone(shipped);
  mutate(json);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  return dir;
}

describe('tokenizer files', () => {
  it('save then load gives the same tokenizer', () => {
    const tokenizer = loadTokenizer('datasets/tokenizer');
    const dir = mkdtempSync(join(tmpdir(), 'tok-'));
    saveTokenizer(tokenizer, dir);
    const again = loadTokenizer(join(dir, 'tokenizer.json'));
    const text = '春眠不觉晓，处处闻啼鸟。 Call me Ishmael. <|endoftext|>';
    expect(again.encode(text)).toEqual(tokenizer.encode(text));
    expect(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).toBe(readFileSync('datasets/tokenizer/tokenizer.json', 'utf8'));
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    expect(config).toMatchObject({ eos_token: '<|im_end|>', pad_token: '<|endoftext|>', tokenizer_class: 'PreTrainedTokenizerFast' });
    expect(config.chat_template).toContain("'<|im_start|>' + message['role']");
  });

  it('reads merges written as "a b" strings (older files)', () => {
    const dir = withJson((j) => (j.model.merges = j.model.merges.map((m: string[]) => m.join(' '))));
    expect(loadTokenizer(dir).encode('hello 世界')).toEqual(loadTokenizer('datasets/tokenizer').encode('hello 世界'));
  });

  it('rejects a file that is not JSON, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tok-'));
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    expect(() => loadTokenizer(dir)).toThrow(`${join(dir, 'tokenizer.json')}: not valid JSON`);
  });

  it.each([
    ['a WordPiece model', (j: any) => (j.model.type = 'WordPiece'), "model.type: 'WordPiece' is not supported, expected 'BPE'"],
    ['no merges', (j: any) => delete j.model.merges, 'model.merges: missing, expected an array'],
    ['a bad merge', (j: any) => (j.model.merges[5] = ['x', 'y', 'z']), 'model.merges[5]: ["x","y","z"], expected "a b" or ["a", "b"]'],
    ['a missing byte', (j: any) => delete j.model.vocab['Ā'], "model.vocab: byte 0x00 ('Ā') has no token"],
    ['a bad id', (j: any) => (j.model.vocab['Ā'] = -4), "model.vocab['Ā']: -4 is not an id"],
    ['an unknown pre-tokenizer', (j: any) => (j.pre_tokenizer = { type: 'Whitespace' }), "pre_tokenizer.type: 'Whitespace' is not supported"],
    ['no ByteLevel step', (j: any) => j.pre_tokenizer.pretokenizers.pop(), 'pre_tokenizer: no ByteLevel step, expected a byte-level BPE tokenizer'],
    ['a bad added token', (j: any) => (j.added_tokens[1].content = ''), 'added_tokens[1].content: expected a non-empty string'],
  ])('rejects %s, naming the file and the field', (_, mutate, message) => {
    const dir = withJson(mutate);
    expect(() => loadTokenizer(dir)).toThrow(`${join(dir, 'tokenizer.json')}: ${message}`);
  });

  it('names a path that holds no tokenizer', () => {
    expect(() => loadTokenizer('/no/such/dir')).toThrow('/no/such/dir: no such file or directory, expected a tokenizer directory or tokenizer.json');
    expect(() => loadTokenizer(tmpdir())).toThrow(`${tmpdir()}: no tokenizer.json in this directory`);
  });

  it('the shipped tokenizer is what training on the shipped corpus gives', () => {
    const out = mkdtempSync(join(tmpdir(), 'tok-'));
    execFileSync(process.execPath, ['lib/cli/tinyllm.js', 'tokenizer', 'train', '--input', 'datasets/corpus/zh-modern.jsonl.gz',
      'datasets/corpus/zh-classical.jsonl.gz', 'datasets/corpus/en.jsonl.gz', '--vocab-size', '6400', '--out', out], { stdio: 'pipe' });
    expect(readFileSync(join(out, 'tokenizer.json'), 'utf8')).toBe(readFileSync('datasets/tokenizer/tokenizer.json', 'utf8'));
  }, 180_000);
});
