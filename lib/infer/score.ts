// How surprised a model is by each token of a text: log p(token | everything before it). The learner's
// way to look inside a model, and the base of perplexity.
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../model/model.js';

/** log p(ids[t] | ids[<t]) for t ≥ 1; the first token has no prediction (null). */
export function scoreIds(model: LlamaModel, ids: number[]): (number | null)[] {
  if (ids.length > model.config.maxSeq) throw new Error(`score: ${ids.length} tokens exceed the model's maxSeq ${model.config.maxSeq}`);
  if (ids.length < 2) return ids.map(() => null);
  // Position t predicts token t + 1.
  const logProbs = tf.tidy(() => model.tokenLogProbs(tf.tensor2d([ids.slice(0, -1)], [1, ids.length - 1], 'int32'), tf.tensor2d([ids.slice(1)], [1, ids.length - 1], 'int32')).dataSync());
  return [null, ...Array.from(logProbs)];
}

/** The k likeliest next tokens after `ids` and their probabilities, likeliest first. */
export function topNextTokens(model: LlamaModel, ids: number[], k: number): { id: number; p: number }[] {
  const probs = tf.tidy(() => {
    const { logits } = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'));
    return tf.softmax(logits.slice([0, ids.length - 1, 0], [1, 1, -1]).reshape([-1])).dataSync(); // [V]
  });
  const order = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]!);
  return order.slice(0, k).map((id) => ({ id, p: probs[id]! }));
}
