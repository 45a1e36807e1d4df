// GPU suite: decoding steps replayed from CUDA graphs (lib/infer/decode-step.ts) give the tokens the
// same steps give run op by op on cuda — alone, quantized, and in a batch whose size changes as
// sequences join and leave — and leave no tensor behind; a host copy while recording fails clearly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../../lib/backend/cuda/backend.js';
import { BatchDecoder } from '../../lib/infer/batch-decoder.js';
import { Decoder, generate, type GenerateOptions } from '../../lib/infer/sampling.js';
import { presetConfig } from '../../lib/model/config.js';
import { LlamaModel } from '../../lib/model/model.js';
import { quantizeModel } from '../../lib/quant/quantize-model.js';
import { Rng } from '../../lib/rng.js';
import { againstCpu, openGpu } from './gpu.js';

const gpu = openGpu();

/** f's result with CUDA graphs off (every op dispatched by tfjs). */
function eagerly<T>(f: () => T): T {
  process.env.TINYLLM_CUDA_GRAPHS = '0';
  try {
    return f();
  } finally {
    delete process.env.TINYLLM_CUDA_GRAPHS;
  }
}

describe('decoding from CUDA graphs', { skip: gpu.skip }, () => {
  againstCpu();
  const config = presetConfig('nano', { vocabSize: 512, maxSeq: 96 });
  const rng = new Rng(3);
  const prompts = [5, 17, 9, 30].map((n) => Array.from({ length: n }, () => rng.int(config.vocabSize)));
  const options = (seed: number): GenerateOptions => ({ temperature: 0.9, topP: 0.95, maxNewTokens: 40, seed });

  it('generate(): the same tokens as op-by-op decoding, float32 and q8_0; no tensor left', async () => {
    await tf.setBackend('cuda');
    const float = LlamaModel.create(config, 4);
    for (const model of [float, quantizeModel(float, 'q8_0')]) {
      const tensors = tf.memory().numTensors;
      const decoder = new Decoder(model, prompts[1]!, options(7));
      while (!decoder.done) decoder.step();
      assert.equal(decoder.mode, 'cuda graph');
      decoder.finish('length');
      assert.deepEqual(decoder.ids, eagerly(() => generate(model, prompts[1]!, options(7))));
      assert.equal(tf.memory().numTensors, tensors);
      if (model !== float) model.dispose();
    }
    float.dispose();
  });

  it('greedy decoding takes the ids the GPU picks (no logits read back): the tokens of op-by-op decoding, alone and batched', async () => {
    await tf.setBackend('cuda');
    const model = LlamaModel.create(config, 6);
    const greedy: GenerateOptions = { temperature: 0, maxNewTokens: 40 };
    const expected = prompts.map((p) => eagerly(() => generate(model, p, greedy)));
    const decoder = new Decoder(model, prompts[0]!, greedy);
    while (!decoder.done) decoder.step();
    assert.equal(decoder.lastLogits, null); // the last id came from the GPU
    decoder.finish('length');
    assert.deepEqual(decoder.ids, expected[0]);
    const batch = new BatchDecoder(model, prompts.length);
    const sequences = prompts.map((p) => batch.add(p, greedy));
    while (batch.size > 0) batch.step();
    batch.dispose();
    assert.deepEqual(sequences.map((s) => s.ids), expected);
    model.dispose();
  });

  it('a batch decoder: sequences joining and leaving (graphs of 1 to 3 rows) give what each gives alone', async () => {
    await tf.setBackend('cuda');
    const model = LlamaModel.create(config, 5);
    const tensors = tf.memory().numTensors;
    const batch = new BatchDecoder(model, 3);
    const joined: { prompt: number[]; seed: number; ids: number[] }[] = [];
    const join = (i: number) => joined.push({ prompt: prompts[i]!, seed: i + 1, ids: batch.add(prompts[i]!, options(i + 1)).ids });
    join(0);
    for (let step = 0; step < 90; step++) {
      if (step === 3) join(2);
      if (step === 6) join(3);
      if (step === 45) join(1); // the first has finished (40 tokens): its row is free again
      batch.step();
    }
    assert.equal(batch.mode, 'cuda graph');
    batch.dispose();
    for (const { prompt, seed, ids } of joined) assert.deepEqual(ids, eagerly(() => generate(model, prompt, options(seed))));
    assert.equal(tf.memory().numTensors, tensors);
    model.dispose();
  });

  it('copying host data while recording fails with the reason, and the stream works afterwards', async () => {
    await tf.setBackend('cuda');
    const backend = tf.backend() as CudaBackend;
    assert.throws(() => backend.capture('a test', () => { tf.tensor1d([1, 2, 3]); }), /copying 3 host values to the GPU while capturing a test as a CUDA graph/);
    assert.deepEqual(Array.from(tf.tidy(() => tf.add(tf.tensor1d([1, 2]), 1).dataSync())), [2, 3]);
  });
});
