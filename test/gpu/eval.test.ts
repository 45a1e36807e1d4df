// GPU suite: evaluation on cuda — right-padded batches through the fused head (tokenLogProbs) and
// logitsAt's gather of each row's last position — against the CPU, on rows of different lengths.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { nextTokenLogProbs, tokenLogProbsOfRows } from '../../lib/eval/logprobs.js';
import { presetConfig } from '../../lib/model/config.js';
import { LlamaModel } from '../../lib/model/model.js';
import { Rng } from '../../lib/rng.js';
import { againstCpu, assertClose, onBoth, openGpu } from './gpu.js';

const gpu = openGpu();
const config = presetConfig('nano', { vocabSize: 512, maxSeq: 64 }); // head width 32: the fused attention applies
const rng = new Rng(11);
const rows = [5, 64, 33, 2, 17, 48, 9].map((n) => Array.from({ length: n }, () => rng.int(config.vocabSize)));

describe('evaluation on cuda', { skip: gpu.skip }, () => {
  againstCpu();

  it('per-token and next-token log-probabilities of padded batches match the CPU', async () => {
    const [cpu, cuda] = await onBoth(() => {
      const model = LlamaModel.create(config, 5);
      const perToken = tokenLogProbsOfRows(model, rows, 4);
      const next = nextTokenLogProbs(model, rows, [0, 7, 511], 3);
      model.dispose();
      return [...perToken, ...next].map((a) => tf.tensor1d(a));
    });
    assert.equal(cpu.length, 2 * rows.length);
    cpu.forEach((r, i) => assertClose(r, cuda[i]!, `row ${i % rows.length} (${i < rows.length ? 'per token' : 'next token'})`, 2e-3));
  });
});
