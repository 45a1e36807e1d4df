// How surprised a model is by each token of a text: log p(token | everything before it). The learner's
// way to look inside a model, and what every evaluation is made of — perplexity sums it over a text,
// option scoring over an answer, letter scoring reads the next-token distribution after a prompt.
// Rows of different lengths go through the model in batches of similar length, right-padded: with a
// causal mask, padding after a row's end cannot change what came before it.
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../model/model.js';
import { floatValuesOf } from '../backend/read-values.js';

/** log p(ids[t] | ids[<t]) for t ≥ 1; the first token has no prediction (null). */
export function scoreIds(model: LlamaModel, ids: number[]): (number | null)[] {
  if (ids.length < 2) return ids.map(() => null);
  return [null, ...Array.from(tokenLogProbsOfRows(model, [ids])[0]!)];
}

/** For each row (≥ 2 ids, ≤ maxSeq + 1), log p(row[t] | row[<t]) for t ≥ 1: row.length − 1 values. */
export function tokenLogProbsOfRows(model: LlamaModel, rows: readonly (readonly number[])[], batch = 16, onBatch?: (done: number) => void): Float32Array[] {
  return inBatches(model, rows, (r) => r.length - 1, batch, onBatch, (group, T) => {
    const pad = (r: readonly number[], from: number) => [...r.slice(from, from + r.length - 1), ...new Array<number>(T - (r.length - 1)).fill(0)];
    const inputs = tf.tensor2d(group.map((r) => pad(r, 0)), [group.length, T], 'int32');
    const targets = tf.tensor2d(group.map((r) => pad(r, 1)), [group.length, T], 'int32');
    const logProbs = floatValuesOf(() => model.tokenLogProbs(inputs, targets)); // [B·T]
    tf.dispose([inputs, targets]);
    return group.map((r, b) => logProbs.slice(b * T, b * T + r.length - 1));
  });
}

/** For each row (a prompt, ≤ maxSeq ids), log p(id | row) of each of `ids` as the next token. */
export function nextTokenLogProbs(model: LlamaModel, rows: readonly (readonly number[])[], ids: readonly number[], batch = 16, onBatch?: (done: number) => void): Float32Array[] {
  return inBatches(model, rows, (r) => r.length, batch, onBatch, (group, T) => {
    const padded = tf.tensor2d(group.map((r) => [...r, ...new Array<number>(T - r.length).fill(0)]), [group.length, T], 'int32');
    const last = tf.tensor1d(group.map((r) => r.length - 1), 'int32');
    const picked = floatValuesOf(() => tf.gather(tf.logSoftmax(model.logitsAt(padded, last)), tf.tensor1d(ids as number[], 'int32'), 1)); // [B, ids]
    tf.dispose([padded, last]);
    return group.map((_, b) => picked.slice(b * ids.length, (b + 1) * ids.length));
  });
}

/**
 * Run `score` over the rows in groups of up to `batch`, longest first so each group pads little; `T` is
 * the group's longest length. Returns the results in the rows' order.
 */
function inBatches<R>(
  model: LlamaModel, rows: readonly (readonly number[])[], length: (row: readonly number[]) => number, batch: number,
  onBatch: ((done: number) => void) | undefined, score: (group: (readonly number[])[], T: number) => R[],
): R[] {
  if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`batch: ${batch}, expected a whole number ≥ 1`);
  rows.forEach((r, i) => {
    if (length(r) < 1) throw new Error(`row ${i}: ${r.length} ids, too few to score`);
    if (length(r) > model.config.maxSeq) throw new Error(`row ${i}: ${length(r)} positions exceed the model's maxSeq ${model.config.maxSeq}`);
  });
  const order = rows.map((_, i) => i).sort((a, b) => length(rows[b]!) - length(rows[a]!));
  const out = new Array<R>(rows.length);
  for (let start = 0; start < order.length; start += batch) {
    const picked = order.slice(start, start + batch);
    const group = picked.map((i) => rows[i]!);
    score(group, length(group[0]!)).forEach((result, k) => { out[picked[k]!] = result; });
    onBatch?.(Math.min(start + batch, order.length));
  }
  return out;
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
