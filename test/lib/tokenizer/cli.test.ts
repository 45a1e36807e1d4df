import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'tok-cli-'));

function tinyllm(args: string[], input?: string) {
  return spawnSync(process.execPath, ['lib/cli/tinyllm.js', 'tokenizer', ...args], { encoding: 'utf8', input });
}

describe('tinyllm tokenizer', () => {
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, Buffer.concat([Buffer.from('春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。\nThe quick brown fox jumps over the lazy dog.\n'.repeat(50)), Buffer.from([0xc3, 0x28, 0x0a])]));
  const out = join(dir, 'tok');

  it('trains, reports invalid UTF-8, and writes tokenizer.json + tokenizer_config.json', () => {
    const run = tinyllm(['train', '--input', corpus, '--vocab-size', '300', '--out', out]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain(`${corpus}: 1 invalid UTF-8 sequence(s) replaced with U+FFFD`);
    expect(run.stdout).toMatch(/wrote .*tokenizer\.json and tokenizer_config\.json: vocab 300 \(41 merges\)/);
    expect(JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')).eos_token).toBe('<|im_end|>');
  });

  it('encodes --text and standard input, and decodes back', () => {
    const fromFlag = tinyllm(['encode', '--tokenizer', out, '--text', '花落知多少 fox']);
    const fromStdin = tinyllm(['encode', '--tokenizer', join(out, 'tokenizer.json')], '花落知多少 fox');
    expect(fromFlag.status, fromFlag.stderr).toBe(0);
    const ids = JSON.parse(fromFlag.stdout) as number[];
    expect(JSON.parse(fromStdin.stdout)).toEqual(ids);
    const decoded = tinyllm(['decode', '--tokenizer', out, '--ids', ids.join(',')]);
    expect(decoded.stdout).toBe('花落知多少 fox\n');
  });

  it.each([
    [['train', '--input', join(dir, 'missing.txt'), '--vocab-size', '300', '--out', out], `${join(dir, 'missing.txt')}: no such file, expected a text file`],
    [['train', '--input', join(dir, 'empty.txt'), '--vocab-size', '300', '--out', out], `${join(dir, 'empty.txt')}: empty, expected text to train on`],
    [['train', '--input', corpus, '--vocab-size', '100', '--out', out], "--vocab-size: '100' is not valid, expected an integer >= 259"],
    [['train', '--input', corpus, '--out', out], '--vocab-size: missing, expected --vocab-size <n>'],
    [['train', '--vocab-size', '300', '--out', out], '--input: missing, expected --input <files…>'],
    [['encode', '--tokenizer', join(dir, 'broken')], `${join(dir, 'broken', 'tokenizer.json')}: model.type: 'Unigram' is not supported, expected 'BPE'`],
    [['decode', '--tokenizer', out, '--ids', '1,x,3'], "--ids: entry 2 'x' is not an id, expected comma-separated integers"],
    [['decode', '--tokenizer', out, '--ids', '1,99999'], '--ids: entry 2 (99999) is outside the vocabulary, expected < 300'],
  ])('%j fails with one line naming the problem', (args, message) => {
    writeFileSync(join(dir, 'empty.txt'), '');
    mkdirSync(join(dir, 'broken'), { recursive: true });
    writeFileSync(join(dir, 'broken', 'tokenizer.json'), JSON.stringify({ model: { type: 'Unigram' } }));
    const run = tinyllm(args);
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(`tinyllm: ${message}`);
  });
});
