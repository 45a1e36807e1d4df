// The batched scoring every evaluation is made of equals the plain, one-row-at-a-time composition:
// right padding changes nothing before a row's end, and logitsAt reads forward()'s logits.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { nextTokenLogProbs, tokenLogProbsOfRows } from '../../../lib/eval/logprobs.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { Rng } from '../../../lib/rng.js';

describe('batched log-probabilities', () => {
  let model: LlamaModel;
  const rng = new Rng(5);
  const rows = [3, 17, 9, 2, 32, 33, 12].map((n) => Array.from({ length: n }, () => Math.floor(rng.next() * 50)));
  /** The plain way: forward() on one row, log-softmax, read off each next id. */
  const plain = (row: number[]) => tf.tidy(() => {
    const logits = model.forward(tf.tensor2d([row], [1, row.length], 'int32')).logits;
    return tf.logSoftmax(logits).arraySync()[0]!; // [T, V]
  });

  beforeAll(async () => {
    await initBackend('cpu', { quiet: true });
    model = LlamaModel.create(presetConfig('nano', { vocabSize: 50, hidden: 32, ffn: 48, layers: 2, heads: 4, kvHeads: 2, maxSeq: 32 }), 3);
  });

  it('tokenLogProbsOfRows: the same per token for any batch size', () => {
    for (const batch of [1, 3, 16]) {
      const got = tokenLogProbsOfRows(model, rows, batch);
      rows.forEach((row, r) => {
        const want = plain(row.slice(0, -1)).map((lp, t) => lp[row[t + 1]!]!);
        expect(got[r]!.length).toBe(row.length - 1);
        got[r]!.forEach((v, t) => expect(v).toBeCloseTo(want[t]!, 4));
      });
    }
  });

  it('nextTokenLogProbs: the last position of each right-padded prompt, for the ids asked', () => {
    const prompts = rows.filter((r) => r.length <= 32);
    const got = nextTokenLogProbs(model, prompts, [4, 0, 49], 4);
    prompts.forEach((row, r) => {
      const last = plain(row).at(-1)!;
      expect(Array.from(got[r]!)).toEqual([4, 0, 49].map((id) => expect.closeTo(last[id]!, 4)));
    });
  });

  it('refuses rows longer than the context, naming the row', () => {
    expect(() => nextTokenLogProbs(model, [[1, 2], new Array(33).fill(1)], [0])).toThrow("row 1: 33 positions exceed the model's maxSeq 32");
  });
});
