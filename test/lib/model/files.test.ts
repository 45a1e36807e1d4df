import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { loadModelDir, saveModelDir } from '../../../lib/io/model-dir.js';
import { readSafetensors, writeSafetensors } from '../../../lib/io/safetensors.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';
import { FIXTURE_CONFIG } from '../../fixtures/llama/config.js';

await initBackend('cpu', { quiet: true });
const dir = () => mkdtempSync(join(tmpdir(), 'model-'));

describe('safetensors', () => {
  it('round-trips float32 exactly and reads what transformers wrote', () => {
    const file = join(dir(), 'a.safetensors');
    const values = Float32Array.from([1.5, -2.25, 3e-8, 65504, -0]);
    writeSafetensors(file, new Map([['x', { shape: [5], values }], ['y', { shape: [0, 3], values: new Float32Array(0) }]]));
    const { tensors, metadata } = readSafetensors(file);
    expect(Array.from(tensors.get('x')!.values)).toEqual(Array.from(values));
    expect(tensors.get('y')!.shape).toEqual([0, 3]);
    expect(metadata.format).toBe('pt');
    const hf = readSafetensors('test/fixtures/llama/hf/model.safetensors').tensors;
    expect(hf.get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([32, 64]);
  });

  it('rounds to bfloat16 to nearest, ties to even', () => {
    const file = join(dir(), 'b.safetensors');
    // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to the even one, 1.
    // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: the even one is 1 + 2^-6.
    const values = Float32Array.from([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, Math.PI, NaN]);
    writeSafetensors(file, new Map([['x', { shape: [5], values }]]), 'BF16');
    const back = Array.from(readSafetensors(file).tensors.get('x')!.values);
    expect(back.slice(0, 4)).toEqual([1, 1 + 2 ** -6, 1 + 2 ** -7, 3.140625]);
    expect(back[4]).toBeNaN();
  });

  it.each([
    ['is too short', (b: Buffer) => b.subarray(0, 5), /5 bytes, too short for a safetensors header/],
    ['is truncated in the data', (b: Buffer) => b.subarray(0, b.length - 4), /x: bytes 0\.\.16 lie outside the data \(12 bytes\): file truncated\?/],
    ['claims a header longer than the file', (b: Buffer) => (b.writeBigUInt64LE(99999n, 0), b), /header length 99999 exceeds the file/],
    ['has a shape that does not match its bytes', (b: Buffer) => Buffer.from(b.toString('latin1').replace('[4]', '[5]'), 'latin1'), /x: 16 bytes for shape \[5\] of F32, expected 20/],
    ['has an unknown dtype', (b: Buffer) => Buffer.from(b.toString('latin1').replace('"F32"', '"I8" '), 'latin1'), /x: dtype "I8" is not supported/],
  ])('names the file and tensor when it %s', (_, corrupt, message) => {
    const file = join(dir(), 'c.safetensors');
    writeSafetensors(file, new Map([['x', { shape: [4], values: new Float32Array(4) }]]));
    writeFileSync(file, corrupt(readFileSync(file)));
    expect(() => readSafetensors(file)).toThrow(new RegExp(`^${file.replace(/[.]/g, '\\.')}: .*`));
    expect(() => readSafetensors(file)).toThrow(message);
  });
});

describe('model directories', () => {
  it('round-trips a model with its tokenizer; bfloat16 storage stays within bf16 rounding', () => {
    const tokenizer = loadTokenizer('datasets/tokenizer');
    const model = LlamaModel.create({ ...FIXTURE_CONFIG, vocabSize: tokenizer.vocabSize }, 1);
    const out = dir();
    saveModelDir(model, out, { tokenizer, dtype: 'bfloat16' });
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ architectures: ['LlamaForCausalLM'], num_key_value_heads: 2, torch_dtype: 'bfloat16', bos_token_id: null, eos_token_id: 2 });
    expect(JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8'))).toEqual({ bos_token_id: null, eos_token_id: [2, 0], pad_token_id: 0 });
    const loaded = loadModelDir(out);
    expect(loaded.tokenizer!.encode('你好')).toEqual(tokenizer.encode('你好'));
    for (const [name, v] of model.params) {
      const a = v.dataSync(), b = loaded.model.params.get(name)!.dataSync();
      a.forEach((x, i) => expect(Math.abs(x - b[i]!)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -8));
    }
    tf.dispose([model, loaded.model].flatMap((m) => m.variables()));
  });

  it.each([
    ['a missing config.json', (d: string) => rmSync(join(d, 'config.json')), (d: string) => `${d}: no config.json, expected a model directory`],
    ['another architecture', (d: string) => patchConfig(d, { architectures: ['GPT2LMHeadModel'] }), (d: string) => `${d}/config.json: architectures: ["GPT2LMHeadModel"], expected ["LlamaForCausalLM"]`],
    ['a bad size', (d: string) => patchConfig(d, { hidden_size: 'big' }), (d: string) => `${d}/config.json: hidden_size: "big", expected a positive integer`],
    ['rope scaling', (d: string) => patchConfig(d, { rope_scaling: { type: 'yarn' } }), (d: string) => `${d}/config.json: rope_scaling: {"type":"yarn"} is not supported`],
    ['weights of another shape', (d: string) => patchConfig(d, { intermediate_size: 128 }), (d: string) => `${d}/model.safetensors: model.layers.0.mlp.gate_proj.weight: shape [160,64], expected [128,64]`],
  ])('names the file and field for %s', (_, breakIt, message) => {
    const d = dir();
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(join('test/fixtures/llama/hf', f), join(d, f));
    breakIt(d);
    expect(() => loadModelDir(d)).toThrow(message(d));
  });
});

function patchConfig(d: string, patch: Record<string, unknown>): void {
  const file = join(d, 'config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...patch }));
}

describe('tinyllm score', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['lib/cli/tinyllm.js', 'score', '--backend', 'cpu', ...args], { encoding: 'utf8' });

  it('prints per-token log-probabilities as JSON that match the model', () => {
    const r = run('--model', 'test/fixtures/llama/hf', '--ids', '3,1,4,1,5', '--json');
    expect(r.status, r.stderr).toBe(0);
    const { ids, logprobs } = JSON.parse(r.stdout);
    expect(ids).toEqual([3, 1, 4, 1, 5]);
    expect(logprobs[0]).toBeNull();
    const { model } = loadModelDir('test/fixtures/llama/hf');
    const lp = tf.tidy(() => tf.logSoftmax(model.forward(tf.tensor2d([[3, 1, 4, 1, 5]], [1, 5], 'int32')).logits).arraySync()[0]!);
    [1, 4, 1, 5].forEach((id, t) => expect(logprobs[t + 1]).toBeCloseTo(lp[t]![id]!, 5));
  });

  it('prints a table with perplexity', () => {
    const r = run('--model', 'test/fixtures/llama/hf', '--ids', '3,1,4');
    expect(r.stdout).toMatch(/total log-probability -\d+\.\d{3} over 2 predicted tokens; perplexity \d+\.\d{3}/);
  });

  it.each([
    [['--model', 'test/fixtures/llama/hf', '--text', 'hi'], 'test/fixtures/llama/hf: no tokenizer.json, needed for --text; give --ids instead'],
    [['--model', 'test/fixtures/llama/hf'], '--text or --ids: give exactly one'],
    [['--model', 'test/fixtures/llama/hf', '--ids', '3'], '--ids: 1 token(s), expected at least 2 to score'],
    [['--model', 'test/fixtures/llama/hf', '--ids', '3,200'], '--ids: entry 2 (200) is outside the vocabulary, expected < 96'],
    [['--model', '/nonexistent'], '/nonexistent: no config.json, expected a model directory'],
  ])('%j fails with one line', (args, message) => {
    const r = run(...args);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`tinyllm: ${message}`);
  });
});
