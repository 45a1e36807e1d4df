import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../lib/cli/args.js';

function tinyllm(...argv: string[]) {
  return spawnSync(process.execPath, ['lib/cli/tinyllm.js', ...argv], { encoding: 'utf8' });
}

describe('parseArgs', () => {
  it('reads command words, values, = values, bare flags and lists', () => {
    const args = parseArgs(['tokenizer', 'train', '--input', 'a.txt', 'b.txt', '--lr=3e-4', '--resume', '--seed', '1']);
    expect(args.words).toEqual(['tokenizer', 'train']);
    expect(Object.fromEntries(args.flags)).toEqual({ input: ['a.txt', 'b.txt'], lr: ['3e-4'], resume: [], seed: ['1'] });
  });
});

describe('tinyllm', () => {
  it('lists its commands', () => {
    const run = tinyllm('--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('usage: tinyllm <command>');
    expect(run.stdout).toMatch(/^ {2}info {2}/m);
  });
  it('info reports the backend it would use', () => {
    const run = tinyllm('info', '--backend', 'cpu');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^tiny-llm-ts · node v\d+\.\d+\.\d+ · tfjs 4\.22\.0 · backend cpu$/m);
  });
  it.each([
    [['frob'], "tinyllm: unknown command 'frob', expected one of: info, tokenizer train, tokenizer encode, tokenizer decode, data prepare, train, score, demo"],
    [['info', '--backend', 'webgl'], "tinyllm: --backend: unknown backend 'webgl', expected one of auto, cpu, wasm, cuda"],
    [['info', '--bakend', 'cpu'], 'tinyllm: --bakend: unknown option, expected one of --backend'],
  ])('%j fails with one line and exit code 1', (argv, message) => {
    const run = tinyllm(...argv);
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(message);
  });
});
