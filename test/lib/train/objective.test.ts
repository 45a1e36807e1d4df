import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { Rng } from '../../../lib/rng.js';
import { AdamW } from '../../../lib/train/adamw.js';
import { languageModelling, type Objective } from '../../../lib/train/objective.js';
import { batchTensors, trainStep } from '../../../lib/train/step.js';

await initBackend('cpu', { quiet: true });

const config = presetConfig('nano', { vocabSize: 64, hidden: 32, ffn: 48, layers: 2, heads: 4, kvHeads: 2, maxSeq: 32 });
const rng = new Rng(11);
const batch = { inputs: Int32Array.from({ length: 2 * 8 }, () => rng.int(64)), targets: Int32Array.from({ length: 2 * 8 }, () => rng.int(64)) };

/** One step at learning rate 0 (the weights stay as they are): what it measured. */
function measure(model: LlamaModel, b: typeof batch & { weights?: Float32Array }, objective?: Objective) {
  const adamw = new AdamW(model.params);
  const result = trainStep(model, adamw, [b], 2, 0, 1e9, objective);
  adamw.dispose();
  return result;
}

describe('trainStep objectives', () => {
  it('minimises the objective it is given: twice the loss gives twice the loss and gradient norm', () => {
    const model = LlamaModel.create(config, 1);
    const doubled: Objective = { name: 'double', loss: (m, b) => tf.mul(languageModelling.loss(m, b), 2) as tf.Scalar };
    const plain = measure(model, batch), twice = measure(model, batch, doubled);
    expect(twice.loss).toBeCloseTo(2 * plain.loss, 5);
    expect(twice.gradNorm).toBeCloseTo(2 * plain.gradNorm, 4);
    model.dispose();
  });

  it('weights each target by the batch weights: all ones is the plain mean, zeros leave tokens out', () => {
    const model = LlamaModel.create(config, 2);
    const ones = new Float32Array(16).fill(1);
    const secondHalf = Float32Array.from({ length: 16 }, (_, i) => (i % 8 >= 4 ? 1 : 0)); // the last 4 positions of each row
    const perToken = tf.tidy(() => {
      const t = batchTensors(batch, 2);
      return Array.from(model.tokenLogProbs(t.inputs, t.targets).dataSync(), (v) => -v);
    });
    expect(measure(model, { ...batch, weights: ones }).loss).toBeCloseTo(measure(model, batch).loss, 6);
    const kept = perToken.filter((_, i) => secondHalf[i] === 1);
    expect(measure(model, { ...batch, weights: secondHalf }).loss).toBeCloseTo(kept.reduce((a, v) => a + v, 0) / kept.length, 5);
    const before = tf.memory().numTensors;
    measure(model, { ...batch, weights: secondHalf });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('updates only the trainable parameters: frozen ones stay bit-identical and get no optimizer state', () => {
    const model = LlamaModel.create(config, 3);
    model.setTrainable((name) => name.includes('mlp.'));
    const before = new Map([...model.params].map(([name, v]) => [name, Array.from(v.dataSync())]));
    const adamw = new AdamW(model.trainableParams());
    for (let i = 0; i < 2; i++) trainStep(model, adamw, [batch], 2, 1e-2, 1);
    const mlpNames = [...model.params.keys()].filter((n) => n.includes('mlp.'));
    expect(mlpNames.length).toBe(3 * config.layers);
    expect(adamw.stateTensors().size).toBe(2 * mlpNames.length); // m and v for each trainable tensor only
    for (const [name, v] of model.params) {
      const same = Array.from(v.dataSync()).every((x, i) => x === before.get(name)![i]);
      expect(same, name).toBe(!name.includes('mlp.'));
    }
    adamw.dispose();
    model.dispose();
  });
});
