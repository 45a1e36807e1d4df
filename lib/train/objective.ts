// What a training step minimises. trainStep runs forward and backward over an objective's loss, so
// pretraining, supervised fine-tuning (the same loss with prompt tokens weighted 0) and preference
// objectives go through one step, one loop and one validation.
import type * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../model/model.js';

/** One micro-batch as tensors: inputs and targets [B, T] int32, per-token weights [B, T] when it has them. */
export interface BatchTensors {
  inputs: tf.Tensor2D;
  targets: tf.Tensor2D;
  weights?: tf.Tensor2D;
  /** Per row, the reference model's summed log-probability of its weighted tokens (DPO): [B]. */
  reference?: tf.Tensor1D;
}

/** Where an objective reports scalars besides its loss, by name (e.g. TRL's `rewards/accuracies`). */
export type MetricReport = (name: string, value: tf.Scalar) => void;

/** A scalar loss of the model on one micro-batch, to minimise. */
export interface Objective {
  /** Short name, for logs. */
  name: string;
  loss(model: LlamaModel, batch: BatchTensors, report?: MetricReport): tf.Scalar;
}

/**
 * Next-token cross-entropy, averaged over the tokens — weighted per token when the batch carries
 * weights (SFT: 0 on the prompt, 1 on the answer), plus the MoE balancing loss.
 */
export const languageModelling: Objective = {
  name: 'lm',
  loss: (model, b) => model.loss(b.inputs, b.targets, b.weights),
};
