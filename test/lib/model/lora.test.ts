// LoRA: parity with Hugging Face peft both ways (fixtures from test/fixtures/lora/make_fixtures.py),
// merging, a frozen base, and one-line errors for adapters that do not fit.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { loadModelDir } from '../../../lib/io/model-dir.js';
import { loadAdapter, saveAdapter } from '../../../lib/io/peft.js';
import { readSafetensors } from '../../../lib/io/safetensors.js';
import { LORA_TARGETS, LoraAdapter } from '../../../lib/model/lora.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { Rng } from '../../../lib/rng.js';
import { AdamW } from '../../../lib/train/adamw.js';
import { trainStep } from '../../../lib/train/step.js';

await initBackend('cpu', { quiet: true });

const BASE = 'test/fixtures/llama/hf';
const dir = mkdtempSync(join(tmpdir(), 'lora-'));
const ALL = Object.values(LORA_TARGETS);

function expected(file: string) {
  const { tensors } = readSafetensors(file);
  const ids = tensors.get('input_ids')!;
  return { ids: tf.tensor2d(Array.from(ids.values), ids.shape as [number, number], 'int32'), tensors };
}

/** Largest |ours − reference| over the logits of `ids`. */
function maxDiff(model: LlamaModel, ids: tf.Tensor2D, reference: ArrayLike<number>): number {
  const ours = tf.tidy(() => model.forward(ids).logits.dataSync());
  return Array.from(ours).reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i]!)), 0);
}

describe('LoRA parity with peft', () => {
  it('loads an adapter peft saved (rsLoRA, regex targets) and gives its logits', () => {
    const { model } = loadModelDir(BASE);
    const adapter = loadAdapter(model, 'test/fixtures/lora/peft');
    expect(adapter.modules).toHaveLength(8); // q, v, o, down in each of 2 layers
    const { ids, tensors } = expected('test/fixtures/lora/peft/expected.safetensors');
    expect(maxDiff(model, ids, tensors.get('logits')!.values)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('saves adapters peft loads: peft computes our logits from ours', () => {
    const { model } = loadModelDir(BASE);
    loadAdapter(model, 'test/fixtures/lora/ours');
    const { ids, tensors } = expected('test/fixtures/lora/ours/expected.safetensors');
    expect(maxDiff(model, ids, tensors.get('logits')!.values)).toBeLessThan(1e-4);
    // Saving it again writes the same tensors under the same names.
    saveAdapter(model.adapter!, join(dir, 'again'));
    const before = readSafetensors('test/fixtures/lora/ours/adapter_model.safetensors').tensors;
    const after = readSafetensors(join(dir, 'again', 'adapter_model.safetensors')).tensors;
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, t] of before) expect(Array.from(after.get(name)!.values)).toEqual(Array.from(t.values));
    model.dispose();
  });
});

describe('merging', () => {
  it('gives the unmerged logits (1e-5), as peft merge_and_unload does', () => {
    const { model } = loadModelDir(BASE);
    const adapter = loadAdapter(model, 'test/fixtures/lora/peft');
    const { ids, tensors } = expected('test/fixtures/lora/peft/expected.safetensors');
    const unmerged = tf.tidy(() => model.forward(ids).logits.dataSync());
    adapter.merge();
    expect(model.adapter).toBeNull();
    expect(maxDiff(model, ids, unmerged)).toBeLessThan(1e-5);
    expect(maxDiff(model, ids, tensors.get('merged_logits')!.values)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('starts as the base (B = 0) and detaching restores the base exactly', () => {
    const { model } = loadModelDir(BASE);
    const { ids } = expected('test/fixtures/lora/peft/expected.safetensors');
    const plain = tf.tidy(() => model.forward(ids).logits.dataSync());
    const adapter = LoraAdapter.create(model, { rank: 4, alpha: 8, dropout: 0, targetModules: ALL }, 1);
    expect(maxDiff(model, ids, plain)).toBe(0);
    adapter.detach();
    expect(model.projections.every((slot) => slot.get().constructor.name === 'Dense')).toBe(true);
    model.dispose();
  });
});

describe('training an adapter', () => {
  it('trains only A and B: AdamW holds 2·layers·targets tensors and the base stays bit-identical', () => {
    const { model } = loadModelDir(BASE);
    const before = new Map([...model.params].map(([name, v]) => [name, Array.from(v.dataSync())]));
    const adapter = LoraAdapter.create(model, { rank: 4, alpha: 8, dropout: 0.1, targetModules: ALL }, 2);
    const optimizer = new AdamW(model.trainableParams());
    expect(optimizer.stateTensors().size).toBe(2 * (2 * model.config.layers * ALL.length)); // m and v of each A and B
    const rng = new Rng(3);
    const batch = { inputs: Int32Array.from({ length: 32 }, () => rng.int(96)), targets: Int32Array.from({ length: 32 }, () => rng.int(96)) };
    const losses = Array.from({ length: 8 }, () => trainStep(model, optimizer, [batch], 2, 1e-2, 1).loss);
    expect(losses[7]!).toBeLessThan(losses[0]! - 0.1);
    for (const [name, v] of model.params) expect(Array.from(v.dataSync()), name).toEqual(before.get(name));
    const b = adapter.params.get('model.layers.0.self_attn.q_proj.lora_B.weight')!;
    expect(tf.tidy(() => tf.max(tf.abs(b)).dataSync()[0]!)).toBeGreaterThan(0);
    optimizer.dispose();
    model.dispose();
  });
});

describe('adapters that do not fit', () => {
  const copyAdapter = (name: string, edit: (config: Record<string, unknown>) => void) => {
    const out = join(dir, name);
    mkdirSync(out, { recursive: true });
    copyFileSync('test/fixtures/lora/ours/adapter_model.safetensors', join(out, 'adapter_model.safetensors'));
    const config = JSON.parse(readFileSync('test/fixtures/lora/ours/adapter_config.json', 'utf8')) as Record<string, unknown>;
    edit(config);
    writeFileSync(join(out, 'adapter_config.json'), JSON.stringify(config));
    return out;
  };

  it.each([
    ['rank 0', (c: Record<string, unknown>) => { c.r = 0; }, 'adapter_config.json: r: 0, expected an integer rank > 0'],
    ['another rank', (c: Record<string, unknown>) => { c.r = 8; }, 'adapter_model.safetensors: base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight: shape [4,64], expected [8,64] for this model (rank 8)'],
    ['fewer targets', (c: Record<string, unknown>) => { c.target_modules = ['q_proj']; }, "adapter_model.safetensors: base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight: not a LoRA weight of the modules target_modules [\"q_proj\"] picks in this model"],
    ['no match', (c: Record<string, unknown>) => { c.target_modules = ['c_attn']; }, 'adapter_config.json: target_modules: ["c_attn"] match no projection of this model'],
    ['DoRA', (c: Record<string, unknown>) => { c.use_dora = true; }, 'adapter_config.json: use_dora: true, expected false (DoRA is not supported)'],
  ])('%s: one line naming the file and field', (name, edit, message) => {
    const { model } = loadModelDir(BASE);
    expect(() => loadAdapter(model, copyAdapter(name.replace(/ /g, '-'), edit))).toThrow(message);
    expect(model.adapter).toBeNull();
    model.dispose();
  });

  it('a base of another shape, or a directory without adapter_config.json', () => {
    const other = LlamaModel.create({ ...loadModelDir(BASE).model.config, hidden: 32, heads: 2, kvHeads: 1 }, 0);
    expect(() => loadAdapter(other, 'test/fixtures/lora/ours')).toThrow('adapter_model.safetensors: base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight: shape [4,64], expected [4,32]');
    expect(() => loadAdapter(other, BASE)).toThrow(`${BASE}: no adapter_config.json, expected a LoRA adapter directory`);
    other.dispose();
  });
});
