// The model against Hugging Face transformers (fixtures from test/fixtures/llama/make_fixtures.py):
// a LlamaForCausalLM with GQA loads here and gives the same logits and gradients; a directory saved by
// us loads in transformers and gives the same logits as here.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { loadModelDir, saveModelDir } from '../../../lib/io/model-dir.js';
import { readSafetensors } from '../../../lib/io/safetensors.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { FIXTURE_CONFIG, OURS_SEED } from '../../fixtures/llama/config.js';

const FIXTURES = 'test/fixtures/llama';

await initBackend('cpu', { quiet: true }); // the fixtures' tensors are made while the tests are collected

/** Largest |a − b| over all values. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function expected(dir: string) {
  const { tensors } = readSafetensors(join(FIXTURES, dir, 'expected.safetensors'));
  const ids = tensors.get('input_ids')!;
  return { tensors, ids: tf.tensor2d(Int32Array.from(ids.values), ids.shape as [number, number], 'int32') };
}

// Both CPU paths: the plain tfjs ops (cpu) and wasm with OpenBLAS products and our fused SIMD kernels.
describe.each(['cpu', 'wasm'] as const)('on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend, { quiet: true });
  });

  describe('Hugging Face LlamaForCausalLM -> ours', () => {
    const { tensors, ids } = expected('hf');

    it('loads the directory transformers saved and gives the same logits (1e-4)', () => {
      const { model } = loadModelDir(join(FIXTURES, 'hf'));
      const logits = tf.tidy(() => model.forward(ids).logits.dataSync());
      expect(maxDiff(logits, tensors.get('logits')!.values)).toBeLessThan(1e-4);
      model.dispose();
    });

    it('gives the same loss and the same gradient for every parameter', () => {
      const { model } = loadModelDir(join(FIXTURES, 'hf'));
      const T = ids.shape[1];
      const inputs = ids.slice([0, 0], [-1, T - 1]) as tf.Tensor2D;
      const targets = ids.slice([0, 1], [-1, T - 1]) as tf.Tensor2D;
      const { value, grads } = tf.variableGrads(() => model.loss(inputs, targets), model.variables());
      expect(Math.abs(value.dataSync()[0]! - tensors.get('loss')!.values[0]!)).toBeLessThan(1e-5);
      expect(Object.keys(grads).length).toBe(model.params.size);
      for (const [name, variable] of model.params) {
        const reference = tensors.get(`grad.${name}`);
        expect(reference, `no reference gradient for ${name}`).toBeDefined();
        const scale = Math.max(1e-3, ...Array.from(reference!.values, Math.abs));
        const diff = maxDiff(grads[variable.name]!.dataSync(), reference!.values);
        expect(diff / scale, `${name}: max gradient difference ${diff} (largest |g| ${scale})`).toBeLessThan(1e-4);
      }
      tf.dispose([value, inputs, targets, ...Object.values(grads)]);
      model.dispose();
    });
  });

  describe('ours -> Hugging Face LlamaForCausalLM', () => {
    const { tensors, ids } = expected('ours');

    it('saves exactly the committed directory (the one transformers was run on)', () => {
      const model = LlamaModel.create(FIXTURE_CONFIG, OURS_SEED);
      const dir = mkdtempSync(join(tmpdir(), 'ours-'));
      saveModelDir(model, dir);
      for (const file of ['config.json', 'generation_config.json', 'model.safetensors']) {
        expect(readFileSync(join(dir, file)).equals(readFileSync(join(FIXTURES, 'ours', file))), `${file} differs`).toBe(true);
      }
      model.dispose();
    });

    it('gives the logits transformers computed from it (1e-4)', () => {
      const model = LlamaModel.create(FIXTURE_CONFIG, OURS_SEED);
      const logits = tf.tidy(() => model.forward(ids).logits.dataSync());
      expect(maxDiff(logits, tensors.get('logits')!.values)).toBeLessThan(1e-4);
      model.dispose();
    });
  });
});
