// GPU suite: quantized projections on cuda — the dequantize kernel, the matvec that reads the blocks
// for up to 8 rows, and cuBLAS on the unpacked weight for more — against lib/quant's JavaScript on the
// CPU; and a q4_0 model's logits on both.
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { presetConfig } from '../../lib/model/config.js';
import { QUANTIZED_MATVEC_MAX_ROWS } from '../../lib/model/fused.js';
import { LlamaModel } from '../../lib/model/model.js';
import { QuantizedLinear } from '../../lib/model/quantized-linear.js';
import { quantizeModel } from '../../lib/quant/quantize-model.js';
import { Rng } from '../../lib/rng.js';
import { againstCpu, assertClose, onBoth, openGpu } from './gpu.js';

const gpu = openGpu();

describe('quantized projections on cuda', { skip: gpu.skip }, () => {
  againstCpu();

  for (const type of ['q8_0', 'q4_0'] as const) {
    it(`${type}: unpacking, and products of 1, 3, ${QUANTIZED_MATVEC_MAX_ROWS} (matvec) and 40 rows (cuBLAS) match the CPU`, async () => {
      const rng = new Rng(5);
      const [out, cols] = [200, 120]; // rows of 3.75 blocks: blocks straddle rows
      const weight = Float32Array.from({ length: out * cols }, () => (rng.next() - 0.5) * 0.3);
      const xs = [1, 3, QUANTIZED_MATVEC_MAX_ROWS, 40].map((n) => Float32Array.from({ length: n * cols }, () => rng.next() - 0.5));
      const [cpu, cuda] = await onBoth(() => {
        const q = QuantizedLinear.fromWeight(type, tf.tensor2d(weight, [out, cols]));
        const results = [q.dequantized(), ...xs.map((x) => q.apply(tf.tensor2d(x, [x.length / cols, cols])))];
        q.dispose();
        return results;
      });
      assertClose(cpu[0]!, cuda[0]!, 'dequantized weight', 0); // the same arithmetic: exact
      for (let i = 1; i < cpu.length; i++) assertClose(cpu[i]!, cuda[i]!, `product of ${xs[i - 1]!.length / cols} rows`, 1e-4);
    });
  }

  it('a q4_0 model: the logits of 5 positions (matvec) and of 2 × 20 (cuBLAS) match the CPU', async () => {
    const config = presetConfig('nano', { vocabSize: 512, maxSeq: 64 });
    const rng = new Rng(6);
    const shapes: [number, number][] = [[1, 5], [2, 20]];
    const ids = shapes.map(([b, t]) => Array.from({ length: b * t }, () => rng.int(config.vocabSize)));
    const [cpu, cuda] = await onBoth(() => {
      const model = LlamaModel.create(config, 11);
      const quantized = quantizeModel(model, 'q4_0');
      model.dispose();
      const logits = ids.map((row, i) => quantized.forward(tf.tensor2d(row, shapes[i]!, 'int32')).logits);
      quantized.dispose();
      return logits;
    });
    cpu.forEach((r, i) => assertClose(r, cuda[i]!, `logits [${shapes[i]}]`, 1e-3));
  });
});
