// variableGradients (lib/train/backprop.ts) against tf.variableGrads: the same values, bit for bit, no
// tensor left behind, and — over the cuda backend on a recording driver, which counts the bytes a step
// allocates without a GPU — a lower peak, since each op's gradients and saved tensors go as soon as
// its backward has run.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { CudaBackend } from '../../../lib/backend/cuda/backend.js';
import { registerCudaBackend } from '../../../lib/backend/cuda/register.js';
import { initBackend } from '../../../lib/backend/init.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { Rng } from '../../../lib/rng.js';
import { variableGradients } from '../../../lib/train/backprop.js';
import { RecordingDriver, recordingBackend } from '../cuda/recording-driver.js';

const config = presetConfig('nano', { vocabSize: 96 });
const [B, T] = [4, 32];
const rng = new Rng(11);
const ids = () => tf.tensor2d(Int32Array.from({ length: B * T }, () => rng.int(96)), [B, T], 'int32');

/** Gradients of nano's loss on one batch by `gradients`, as plain arrays by variable name, and the loss. */
function lossAndGradients(model: LlamaModel, gradients: typeof variableGradients, x: tf.Tensor2D, y: tf.Tensor2D) {
  const { value, grads } = gradients(() => model.loss(x, y), model.variables());
  const out = { loss: value.dataSync()[0]!, grads: Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, Array.from(g!.dataSync())])) };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describe('variableGradients', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
    tf.removeBackend('cuda');
  });

  it('gives what tf.variableGrads gives, bit for bit, and leaves no tensor behind', async () => {
    await initBackend('cpu', { quiet: true });
    const model = LlamaModel.create(config, 3);
    const [x, y] = [ids(), ids()];
    const before = tf.memory().numTensors;
    const ours = lossAndGradients(model, variableGradients, x, y);
    expect(tf.memory().numTensors).toBe(before);
    const theirs = lossAndGradients(model, tf.variableGrads as typeof variableGradients, x, y);
    expect(Object.keys(ours.grads).sort()).toEqual(model.variables().map((v) => v.name).sort());
    expect(ours).toEqual(theirs);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('says when the value does not depend on the variables, and when it is not a scalar', async () => {
    await initBackend('cpu', { quiet: true });
    const v = tf.variable(tf.tensor([1, 2]));
    expect(() => variableGradients(() => tf.scalar(3), [v])).toThrow('variableGradients: the value does not depend on any of the variables');
    expect(() => variableGradients(() => tf.mul(v, 2) as unknown as tf.Scalar, [v])).toThrow('variableGradients: f must return a scalar, got rank 1');
    v.dispose();
  });

  it('peaks lower than tf.variableGrads over a step of the cuda backend (recording driver: bytes, not values)', async () => {
    const driver = new RecordingDriver();
    registerCudaBackend();
    tf.removeBackend('cuda');
    tf.registerBackend('cuda', () => recordingBackend(driver), -1);
    await tf.setBackend('cuda');
    (tf.backend() as CudaBackend).matmulPrecision = 'bf16';
    const model = LlamaModel.create(config, 3);
    const [x, y] = [ids(), ids()];
    const peak = (gradients: typeof variableGradients) => {
      driver.resetPeak();
      const { value, grads } = gradients(() => model.loss(x, y), model.variables());
      tf.dispose([value, ...Object.values(grads)]);
      return driver.peakBytes;
    };
    const [theirs, ours] = [peak(tf.variableGrads as typeof variableGradients), peak(variableGradients)];
    expect(ours).toBeLessThan(0.8 * theirs);
    tf.dispose([x, y]);
    model.dispose();
  });
});
