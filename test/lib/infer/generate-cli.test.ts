import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { defaultStopIds, generate, type GenerateOptions, SAMPLING_DEFAULTS } from '../../../lib/infer/sampling.js';
import { loadModelDir, saveModelDir } from '../../../lib/io/model-dir.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';
import { ENDOFTEXT, IM_END } from '../../../lib/tokenizer/special.js';
import { TextStream } from '../../../lib/tokenizer/text-stream.js';
import type { Tokenizer } from '../../../lib/tokenizer/tokenizer.js';

await initBackend('cpu', { quiet: true });

const PROMPT = '床前明月光，';
let root: string;
let dir: string; // nano with the shipped tokenizer, as saveModelDir writes it
let model: LlamaModel;
let tokenizer: Tokenizer;
let eos: number[]; // what saveModelDir wrote as generation_config.json's eos_token_id

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'generate-cli-'));
  dir = join(root, 'nano');
  const shipped = loadTokenizer('datasets/tokenizer');
  const created = LlamaModel.create(presetConfig('nano', { vocabSize: shipped.vocabSize }), 5);
  saveModelDir(created, dir, { tokenizer: shipped });
  created.dispose();
  ({ model, tokenizer } = loadModelDir(dir) as { model: LlamaModel; tokenizer: Tokenizer });
  eos = [tokenizer.specialId(IM_END), tokenizer.specialId(ENDOFTEXT)];
});

afterAll(() => {
  model?.dispose();
  if (root) rmSync(root, { recursive: true, force: true });
});

const tinyllm = (...args: string[]) => spawnSync(process.execPath, ['lib/cli/tinyllm.js', 'generate', '--backend', 'cpu', ...args], { encoding: 'utf8' });

/** Run with --json and parse its one line. */
function runJson(...args: string[]): { text: string; ids: number[]; finish_reason: string } {
  const r = tinyllm(...args, '--json');
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout.endsWith('\n') && r.stdout.trim().split('\n').length).toBe(1);
  return JSON.parse(r.stdout);
}

/** The reference: generate() called directly on the same model, the CLI's defaults filled in. */
function direct(prompt: string, options: Partial<GenerateOptions>, stopIds = eos): number[] {
  return generate(model, tokenizer.encode(prompt), { ...SAMPLING_DEFAULTS, stopIds, ...options });
}

const textOf = (ids: number[]) => {
  const stream = new TextStream(tokenizer);
  return stream.push(ids) + stream.end();
};

describe('tinyllm generate', () => {
  it('greedy --json gives the ids of generate() on the same model, and their text', () => {
    const out = runJson('--model', dir, '--prompt', PROMPT, '--temperature', '0', '--max-tokens', '24');
    const ids = direct(PROMPT, { temperature: 0, maxNewTokens: 24 });
    expect(out.ids).toEqual(ids);
    expect(out.text).toBe(textOf(ids));
    expect(out.finish_reason).toBe(eos.includes(ids[ids.length - 1]!) ? 'stop' : 'length');
  });

  it('passes every sampling option through: sampled --json equals generate() with the same options', () => {
    const flags = ['--model', dir, '--prompt', PROMPT, '--temperature', '1.2', '--top-k', '50', '--top-p', '0.9', '--repetition-penalty', '1.3', '--max-tokens', '30'];
    const out = runJson(...flags, '--seed', '7');
    const ids = direct(PROMPT, { temperature: 1.2, topK: 50, topP: 0.9, repetitionPenalty: 1.3, seed: 7, maxNewTokens: 30 });
    expect(out.ids).toEqual(ids);
    // Another seed samples something else: the seed is used.
    expect(runJson(...flags, '--seed', '8').ids).not.toEqual(ids);
  });

  it('streams the same text that --json reports, then a newline', () => {
    const flags = ['--model', dir, '--prompt', PROMPT, '--temperature', '1', '--seed', '3', '--max-tokens', '40'];
    const json = runJson(...flags);
    expect(json.text.length).toBeGreaterThan(0);
    const r = tinyllm(...flags);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${json.text}\n`);
    expect(r.stderr).toBe('');
  });

  it('stops at the eos ids of generation_config.json (finish_reason "stop", the stop id last)', () => {
    const greedy = direct(PROMPT, { temperature: 0, maxNewTokens: 12 }, []);
    const stop = greedy[5]!;
    const stopDir = join(root, 'stop');
    cpSync(dir, stopDir, { recursive: true });
    writeFileSync(join(stopDir, 'generation_config.json'), JSON.stringify({ eos_token_id: stop }));
    const out = runJson('--model', stopDir, '--prompt', PROMPT, '--temperature', '0', '--max-tokens', '12');
    expect(out.ids).toEqual(greedy.slice(0, greedy.indexOf(stop) + 1));
    expect(out.finish_reason).toBe('stop');
    expect(out.text).toBe(textOf(out.ids));
  });

  it('falls back to the tokenizer\'s <|endoftext|> and <|im_end|> when generation_config.json names no eos', () => {
    expect(defaultStopIds(tokenizer)).toEqual([tokenizer.specialId(ENDOFTEXT), tokenizer.specialId(IM_END)]);
    // A model whose head is all zeros gives every id logit 0, so greedy picks id 0, <|endoftext|>:
    // without generation_config.json it must stop there, where with no stop ids it would go on.
    const flat = LlamaModel.create(presetConfig('nano', { vocabSize: tokenizer.vocabSize }), 1);
    const head = flat.params.get('lm_head.weight')!;
    tf.tidy(() => head.assign(tf.zerosLike(head)));
    const noConfig = join(root, 'no-generation-config');
    saveModelDir(flat, noConfig, { tokenizer });
    flat.dispose();
    rmSync(join(noConfig, 'generation_config.json'));
    expect(runJson('--model', noConfig, '--prompt', PROMPT, '--temperature', '0', '--max-tokens', '8')).toEqual({ text: '', ids: [tokenizer.specialId(ENDOFTEXT)], finish_reason: 'stop' });
  });

  it("lowers --max-tokens so that prompt and output fit the model's maxSeq; a prompt that fills it is an error", () => {
    const line = '床前明月光，疑是地上霜。举头望明月，低头思故乡。';
    let long = line;
    while (tokenizer.encode(long).length < 300) long += line;
    // The longest prefix that leaves 3 tokens of room in maxSeq 256 (or more, when a character takes two tokens).
    let n = long.length;
    while (tokenizer.encode(long.slice(0, n)).length > 253) n--;
    const prompt = long.slice(0, n);
    const room = 256 - tokenizer.encode(prompt).length;
    const r = tinyllm('--model', dir, '--prompt', prompt, '--temperature', '0', '--max-tokens', '50', '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe(`tinyllm: --max-tokens 50 lowered to ${room}: the prompt's ${256 - room} tokens and the new ones must fit maxSeq 256`);
    expect(JSON.parse(r.stdout).ids).toEqual(direct(prompt, { temperature: 0, maxNewTokens: room }));

    const tooLong = tinyllm('--model', dir, '--prompt', long);
    expect(tooLong.status).toBe(1);
    expect(tooLong.stderr.trim()).toBe(`tinyllm: --prompt: ${tokenizer.encode(long).length} tokens leave no room in the model's maxSeq 256, expected fewer than 256 tokens`);
  });

  it('--help shows the defaults of SAMPLING_DEFAULTS', () => {
    const r = tinyllm('--help');
    expect(r.status).toBe(0);
    const D = SAMPLING_DEFAULTS;
    for (const [flag, value] of [['temperature', D.temperature], ['top-k', D.topK], ['top-p', D.topP], ['repetition-penalty', D.repetitionPenalty], ['max-tokens', D.maxNewTokens], ['seed', D.seed]] as const) {
      expect(r.stdout).toMatch(new RegExp(`^ {2}--${flag} <\\w+> .*\\(default ${String(value).replace('.', '\\.')}\\)$`, 'm'));
    }
  });

  it.each([
    [['--prompt', PROMPT], '--model: missing, expected --model <dir>'],
    [['--model', 'MODEL'], '--prompt: missing, expected --prompt <text>'],
    [['--model', 'MODEL', '--prompt', PROMPT, '--top-p', '2'], '--top-p: 2, expected a number in (0, 1] (1: off)'],
    [['--model', 'MODEL', '--prompt', PROMPT, '--temperature', '-0.5'], '--temperature: -0.5, expected a number >= 0 (0: greedy)'],
    [['--model', 'MODEL', '--prompt', PROMPT, '--repetition-penalty', '0'], '--repetition-penalty: 0, expected a number > 0 (1: off)'],
    [['--model', 'MODEL', '--prompt', PROMPT, '--max-tokens', '0'], '--max-tokens: 0, expected an integer >= 1'],
    [['--model', 'MODEL', '--prompt', ''], '--prompt: empty, expected some text to continue'],
    [['--model', 'test/fixtures/llama/hf', '--prompt', PROMPT], 'test/fixtures/llama/hf: no tokenizer.json, expected a model directory with its tokenizer to encode --prompt'],
  ])('%j fails with one line and exit code 1', (args, message) => {
    const r = tinyllm(...args.map((a) => (a === 'MODEL' ? dir : a)));
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(`tinyllm: ${message}`);
  });
});
