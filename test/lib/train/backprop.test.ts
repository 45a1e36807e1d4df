// variableGradients (lib/train/backprop.ts) against tf.variableGrads: the same values, bit for bit (cpu,
// and wasm through its fused ops), also where one tensor is the gradient of two inputs, no
// tensor left behind, and — over the cuda backend on a recording driver, which counts the bytes a step
// allocates without a GPU — a lower peak, since each op's gradients and saved tensors go as soon as
// its backward has run.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { Rng } from '../../../lib/rng.js';
import { variableGradients } from '../../../lib/train/backprop.js';
import { leaveRecordingBackend, RecordingDriver, useRecordingBackend } from '../cuda/recording-driver.js';

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
  it.each(['cpu', 'wasm'] as const)('gives what tf.variableGrads gives, bit for bit, and leaves no tensor behind, on %s (wasm: through its fused ops)', async (backend) => {
    await initBackend(backend, { quiet: true });
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

  it('sums into an input that already has a gradient when an op gives one tensor as the gradient of two inputs', async () => {
    // The op's gradient for b is the same tensor as for a; a's gradient from the later op arrives first,
    // so a's is a sum — and the tensor must live on for b. (The fused residual + RMSNorm does this.)
    await initBackend('cpu', { quiet: true });
    const [a, b] = [tf.variable(tf.tensor([1, 2, 3])), tf.variable(tf.tensor([4, 5, 6]))];
    const both = tf.customGrad(((x: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
      save([x]);
      return { value: tf.mul(x, y), gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => { const g = tf.mul(dy, saved!); return [g, g]; } };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    const f = () => tf.add(tf.sum(both(a, b) as tf.Tensor), tf.sum(tf.mul(a, 3))) as tf.Scalar;
    const read = ({ value, grads }: { value: tf.Scalar; grads: tf.NamedTensorMap }) => [value, grads[a.name]!, grads[b.name]!].map((t) => Array.from(t.dataSync()));
    expect(read(variableGradients(f, [a, b]))).toEqual(read(tf.variableGrads(f, [a, b]) as { value: tf.Scalar; grads: tf.NamedTensorMap }));
    tf.dispose([a, b]);
  });

  it('says when the value does not depend on the variables, is not a scalar, or f throws — and cleans up, so the next call works', async () => {
    await initBackend('cpu', { quiet: true });
    const [v, frozen] = [tf.variable(tf.tensor([1, 2])), tf.variable(tf.tensor([3]), false)];
    const before = tf.memory().numTensors;
    expect(() => variableGradients(() => tf.sum(tf.mul(tf.square(v), 2)).add(tf.scalar(3)).mul(tf.zeros([2])) as unknown as tf.Scalar, [v])).toThrow('variableGradients: f must return a scalar, got rank 1');
    expect(() => variableGradients(() => { tf.square(v); throw new Error('a bad batch'); }, [v])).toThrow('a bad batch');
    expect(() => variableGradients(() => tf.scalar(3), [v])).toThrow('variableGradients: the value does not depend on any of the variables');
    expect(() => variableGradients(() => tf.sum(frozen), [frozen])).toThrow('variableGradients: none of the 1 variables is trainable');
    expect(tf.memory().numTensors).toBe(before);
    const { value, grads } = variableGradients(() => tf.sum(tf.mul(v, frozen)), [v, frozen]); // (the frozen one gets none)
    expect([value.dataSync()[0], Object.keys(grads), Array.from(grads[v.name]!.dataSync())]).toEqual([9, [v.name], [3, 3]]);
    tf.dispose([value, v, frozen, ...Object.values(grads)]);
  });

  it('peaks lower than tf.variableGrads over a step of the cuda backend (recording driver: bytes, not values)', async () => {
    const driver = new RecordingDriver();
    await useRecordingBackend(driver, 'bf16');
    const model = LlamaModel.create(config, 3);
    const [x, y] = [ids(), ids()];
    const peak = (gradients: typeof variableGradients) => {
      driver.resetPeak();
      const { value, grads } = gradients(() => model.loss(x, y), model.variables());
      tf.dispose([value, ...Object.values(grads)]);
      return driver.peakBytes;
    };
    try {
      const [theirs, ours] = [peak(tf.variableGrads as typeof variableGradients), peak(variableGradients)];
      expect(ours).toBeLessThan(0.8 * theirs);
    } finally {
      tf.dispose([x, y]);
      model.dispose();
      await leaveRecordingBackend();
    }
  });
});
