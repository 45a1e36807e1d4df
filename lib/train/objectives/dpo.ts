// Direct Preference Optimization (Rafailov et al. 2023). With π the model being trained and ρ a frozen
// reference (the starting model), and for each pair the summed log-probabilities of the chosen and the
// rejected answer (prompt tokens and padding weighted 0),
//   loss = −log σ(β·((πc − πr) − (ρc − ρr)))
// raises the chosen answer's log-ratio against the reference above the rejected one's; β says how far
// the model may move from the reference. This is TRL's DPOTrainer's "sigmoid" loss; "ipo" (Azar et al.
// 2023) is ((πc − πr) − (ρc − ρr) − 1/(2β))² on per-token means, as TRL computes it. The reference's
// log-probabilities come with the batch (computed once before training), so one model sits in memory.
import * as tf from '@tensorflow/tfjs';
import type { BatchLoader } from '../../data/loader.js';
import type { LlamaModel } from '../../model/model.js';
import type { Objective } from '../objective.js';
import type { DpoOptions } from '../options.js';
import { batchTensors } from '../step.js';
import { floatValuesOf } from '../../backend/read-values.js';

/** Sum over each row of log p(target)·weight: [B]. */
export function sequenceLogProbs(model: LlamaModel, inputs: tf.Tensor2D, targets: tf.Tensor2D, weights: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(model.tokenLogProbs(inputs, targets), weights), 1) as tf.Tensor1D);
}

/**
 * The DPO objective over batches of n pairs as 2n rows (chosen first, then rejected; DpoLoader) that carry
 * the reference's summed log-probabilities. Reports TRL's metrics: rewards/chosen, rewards/rejected
 * (β times each answer's log-ratio), rewards/accuracies, rewards/margins, logps/chosen, logps/rejected.
 */
export function dpoObjective(options: DpoOptions): Objective {
  const { beta, loss: kind, sftWeight } = options;
  return {
    name: `dpo (${kind}, β ${beta})`,
    loss: (model, b, report) => tf.tidy(() => {
      if (!b.weights || !b.reference) throw new Error('dpo: the batch has no weights or reference log-probabilities, expected a DPO batch (DpoLoader)');
      const perToken = tf.mul(model.tokenLogProbs(b.inputs, b.targets), b.weights); // [2n, T]
      const counts = tf.sum(b.weights, 1); // [2n] answer tokens per row
      let policy = tf.sum(perToken, 1) as tf.Tensor1D; // [2n]
      let reference = b.reference;
      if (kind === 'ipo') {
        policy = tf.div(policy, counts);
        reference = tf.div(reference, counts);
      }
      const [pc, pr] = tf.split(policy, 2) as [tf.Tensor1D, tf.Tensor1D]; // [n] each
      const [rc, rr] = tf.split(reference, 2) as [tf.Tensor1D, tf.Tensor1D];
      const chosenRatio = tf.sub(pc, rc), rejectedRatio = tf.sub(pr, rr);
      const logits = tf.sub(chosenRatio, rejectedRatio); // [n]
      const perPair = kind === 'sigmoid'
        ? tf.softplus(tf.neg(tf.mul(logits, beta))) // −log σ(β·logits)
        : tf.square(tf.sub(logits, 1 / (2 * beta)));
      let loss = tf.mean(perPair) as tf.Scalar;
      if (sftWeight > 0) {
        const [tokensChosen] = tf.split(perToken, 2);
        const [countChosen] = tf.split(counts, 2);
        loss = tf.add(loss, tf.mul(tf.div(tf.neg(tf.sum(tokensChosen!)), tf.sum(countChosen!)), sftWeight)) as tf.Scalar;
      }
      if (report) {
        const rewardC = tf.mul(chosenRatio, beta), rewardR = tf.mul(rejectedRatio, beta);
        report('rewards/chosen', tf.mean(rewardC));
        report('rewards/rejected', tf.mean(rewardR));
        report('rewards/accuracies', tf.mean(tf.cast(tf.greater(rewardC, rewardR), 'float32')));
        report('rewards/margins', tf.mean(tf.sub(rewardC, rewardR)));
        report('logps/chosen', tf.mean(pc));
        report('logps/rejected', tf.mean(pr));
      }
      return loss;
    }),
  };
}

/**
 * The reference log-probabilities of every example of a DPO split under `model` (summed over each
 * answer's tokens), in example order: one pass, no gradients. `loader` visits the split in order.
 */
export function referenceLogProbs(model: LlamaModel, loader: Pick<BatchLoader, 'batch' | 'next'>, examples: number, onProgress?: (done: number) => void): Float32Array {
  const out = new Float32Array(examples);
  for (let done = 0; done < examples; done += loader.batch) {
    const tensors = batchTensors(loader.next(), loader.batch);
    const sums = floatValuesOf(() => sequenceLogProbs(model, tensors.inputs, tensors.targets, tensors.weights!));
    tf.dispose(Object.values(tensors));
    out.set(sums.subarray(0, Math.min(loader.batch, examples - done)), done);
    onProgress?.(Math.min(done + loader.batch, examples));
  }
  return out;
}
