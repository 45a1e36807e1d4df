// GPU suite: batched decoding on cuda — a left-padded batch with its padding mask and per-row RoPE
// positions (what generateBatch and the server's BatchDecoder run) against the CPU, prefill and a
// decode step with the cache.
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { MASKED } from '../../lib/model/attention.js';
import { presetConfig } from '../../lib/model/config.js';
import { LlamaModel } from '../../lib/model/model.js';
import { Rng } from '../../lib/rng.js';
import { againstCpu, assertClose, onBoth, openGpu } from './gpu.js';

const gpu = openGpu();

describe('batched decoding on cuda', { skip: gpu.skip }, () => {
  againstCpu();

  it('prefill of a left-padded batch and one decode step match the CPU', async () => {
    const config = presetConfig('nano', { vocabSize: 512, maxSeq: 64 });
    const rng = new Rng(8);
    const pads = [0, 5, 11], P = 16, B = pads.length;
    const ids = Array.from({ length: B * P }, () => rng.int(config.vocabSize));
    const next = Array.from({ length: B }, () => rng.int(config.vocabSize));
    const [cpu, cuda] = await onBoth(() => {
      const model = LlamaModel.create(config, 12);
      const cache = model.newCache();
      const mask = (S: number) => tf.tensor4d(pads.flatMap((pad) => Array.from({ length: S }, (_, s) => (s < pad ? MASKED : 0))), [B, 1, 1, S]);
      const prefill = model.forward(tf.tensor2d(ids, [B, P], 'int32'), {
        cache, mask: mask(P), positions: tf.tensor2d(pads.flatMap((pad) => Array.from({ length: P }, (_, s) => Math.max(0, s - pad))), [B, P], 'int32'),
      }).logits;
      const step = model.forward(tf.tensor2d(next, [B, 1], 'int32'), { cache, mask: mask(P + 1), positions: tf.tensor2d(pads.map((pad) => P - pad), [B, 1], 'int32') }).logits;
      // Padding rows' outputs are meaningless: compare each row from its first real position.
      const real = tf.concat(pads.map((pad, b) => prefill.slice([b, pad, 0], [1, P - pad, -1]).reshape([P - pad, -1])), 0);
      cache.dispose();
      model.dispose();
      return [real, step];
    });
    assertClose(cpu[0]!, cuda[0]!, 'prefill logits', 1e-3);
    assertClose(cpu[1]!, cuda[1]!, 'decode step logits', 1e-3);
  });
});
