// GPU suite: batched decoding on cuda with the preallocated KV cache — its two kernels, then rows of
// different lengths (what generateBatch and the server's BatchDecoder run): each row's prompt into its
// own cache row, a decode step of all rows, and a two-token step, against the CPU.
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { presetConfig } from '../../lib/model/config.js';
import { cachedAttention, KvCache } from '../../lib/model/kv-cache.js';
import { LlamaModel } from '../../lib/model/model.js';
import { ropeTables } from '../../lib/model/rope.js';
import { Rng } from '../../lib/rng.js';
import { againstCpu, assertClose, onBoth, openGpu } from './gpu.js';

const gpu = openGpu();

describe('batched decoding on cuda', { skip: gpu.skip }, () => {
  againstCpu();

  it('the KV cache kernels (write in place, attend over each row up to its position) match the CPU', async () => {
    const [R, K, C, Dh, H] = [4, 2, 300, 64, 8];
    const [cpu, cuda] = await onBoth(() => {
      const rope = ropeTables(Dh, C, 10000);
      const cache = new KvCache({ layers: 1, rows: R, capacity: C, kvHeads: K, headDim: Dh });
      const randn = (shape: [number, number, number, number], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed) as tf.Tensor4D;
      const prompt = cache.place([3, 1], 250); // two prompts of 250 positions (more slots than a block's threads)
      cache.write(0, randn([2, 250, K, Dh], 1), randn([2, 250, K, Dh], 2), prompt, rope);
      cache.advance([3, 1], 250);
      const step = cache.place([1, 0, 3], 2); // rows of 250, 0 and 250 positions, two new each
      cache.write(0, randn([3, 2, K, Dh], 3), randn([3, 2, K, Dh], 4), step, rope);
      const out = cachedAttention(randn([3, 2, H, Dh], 5), cache, 0, step, rope);
      const kept = [cache.keys[0]!.clone(), cache.values[0]!.clone()];
      cache.dispose();
      return [out, ...kept];
    });
    assertClose(cpu[0]!, cuda[0]!, 'attend', 1e-4);
    assertClose(cpu[1]!, cuda[1]!, 'keys written (rotated)', 1e-5);
    assertClose(cpu[2]!, cuda[2]!, 'values written', 0);
  });

  it('rows of different lengths: prefill per row, a decode step and a two-token step of all rows match the CPU', async () => {
    const config = presetConfig('nano', { vocabSize: 512, maxSeq: 64 });
    const rng = new Rng(8);
    const lengths = [16, 5, 11];
    const prompts = lengths.map((n) => Array.from({ length: n }, () => rng.int(config.vocabSize)));
    const next = Array.from({ length: 3 * 3 }, () => rng.int(config.vocabSize));
    const [cpu, cuda] = await onBoth(() => {
      const model = LlamaModel.create(config, 12);
      const cache = model.newCache(4);
      const rows = [2, 0, 3];
      const prefill = prompts.map((p, b) => model.forward(tf.tensor2d([p], [1, p.length], 'int32'), { cache, cacheRows: [rows[b]!] }).logits.reshape([p.length, -1]));
      const step = model.forward(tf.tensor2d(next.slice(0, 3), [3, 1], 'int32'), { cache, cacheRows: rows }).logits;
      const pair = model.forward(tf.tensor2d(next.slice(3, 9), [3, 2], 'int32'), { cache, cacheRows: rows }).logits;
      cache.dispose();
      model.dispose();
      return [tf.concat(prefill, 0), step, pair];
    });
    assertClose(cpu[0]!, cuda[0]!, 'prefill logits', 1e-3);
    assertClose(cpu[1]!, cuda[1]!, 'decode step logits', 1e-3);
    assertClose(cpu[2]!, cuda[2]!, 'two-token step logits', 1e-3);
  });
});
