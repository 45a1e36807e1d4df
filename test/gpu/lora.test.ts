// GPU suite: the LoRA path on cuda — the base keeps its fused kernels (flash attention, RMSNorm, SwiGLU,
// the fused head loss), the adapters add plain products — against the CPU: the loss and the gradients
// of every A and B, and training steps that keep memory flat.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { presetConfig } from '../../lib/model/config.js';
import { LORA_TARGETS, LoraAdapter } from '../../lib/model/lora.js';
import { LlamaModel } from '../../lib/model/model.js';
import { Rng } from '../../lib/rng.js';
import { AdamW } from '../../lib/train/adamw.js';
import { trainStep } from '../../lib/train/step.js';
import { againstCpu, assertClose, onBoth, openGpu } from './gpu.js';

const gpu = openGpu();
const config = presetConfig('nano', { vocabSize: 512, maxSeq: 64 }); // head width 32: the fused attention applies
const B = 2, T = 48;

/** nano with a rank-8 adapter on every projection, B drawn at random so that the update is not zero. */
function adapted(): LlamaModel {
  const model = LlamaModel.create(config, 3);
  const adapter = LoraAdapter.create(model, { rank: 8, alpha: 16, dropout: 0, targetModules: Object.values(LORA_TARGETS) }, 4);
  let i = 0;
  for (const [name, v] of adapter.params) if (name.endsWith('lora_B.weight')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 50 + i++));
  return model;
}

const rng = new Rng(9);
const ids = () => Array.from({ length: B * T }, () => rng.int(config.vocabSize));
const inputs = ids(), targets = ids();

describe('LoRA on cuda', { skip: gpu.skip }, () => {
  againstCpu();

  it('loss and the gradients of every A and B match the CPU', async () => {
    const [cpu, cuda] = await onBoth(() => {
      const model = adapted();
      const x = tf.tensor2d(inputs, [B, T], 'int32'), y = tf.tensor2d(targets, [B, T], 'int32');
      const { value, grads } = tf.variableGrads(() => model.loss(x, y), [...model.trainableParams().values()]);
      const out = [value, ...Object.values(grads)];
      model.dispose();
      return out;
    });
    assert.equal(cpu.length, 1 + 2 * 7 * config.layers);
    cpu.forEach((r, i) => assertClose(r, cuda[i]!, i === 0 ? 'loss' : `gradient ${i}`, 2e-3));
    console.log(`# LoRA loss ${cpu[0]!.data[0]!.toFixed(5)} on cpu, ${cuda[0]!.data[0]!.toFixed(5)} on cuda; ${cpu.length - 1} adapter gradients within 2e-3`);
  });

  it('trains the adapter alone with flat memory: the base stays bit-identical', async () => {
    await tf.setBackend('cuda');
    const model = adapted();
    const base = model.params.get('model.layers.0.self_attn.q_proj.weight')!;
    const before = Array.from(await base.data());
    const optimizer = new AdamW(model.trainableParams());
    const batch = { inputs: Int32Array.from(inputs), targets: Int32Array.from(targets) };
    const losses: number[] = [];
    let after5 = tf.memory().numTensors;
    for (let s = 0; s < 30; s++) {
      losses.push(trainStep(model, optimizer, [batch], B, 3e-3, 1).loss);
      if (s === 4) after5 = tf.memory().numTensors;
    }
    assert.equal(tf.memory().numTensors, after5);
    assert.ok(losses[29]! < losses[0]! - 0.5, `the loss falls: ${losses[0]} → ${losses[29]}`);
    assert.deepEqual(Array.from(await base.data()), before);
    optimizer.dispose();
    model.dispose();
  });
});
