// Whole bf16 training steps on the cuda backend over a recording driver (no GPU needed; the kernels
// compile with NVRTC): nothing kept as bfloat16 only is ever made float32 — which is what a kernel
// reading such a tensor without load() would cause, silently, at the cost of a pass and, inside a CUDA
// graph, of an error. For the dense model, an MoE one and a LoRA adapter. And in the dense model, after
// the first step no conversion pass is left: AdamW and the kernels write every copy the products read
// (the LM head pads its weight's kept copy itself, see lib/backend/cuda/kernels/head-loss.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CudaBackend } from '../../../lib/backend/cuda/backend.js';
import type { Batch } from '../../../lib/data/loader.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LORA_TARGETS, LoraAdapter } from '../../../lib/model/lora.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { Rng } from '../../../lib/rng.js';
import { AdamW } from '../../../lib/train/adamw.js';
import { trainStep } from '../../../lib/train/step.js';
import { leaveRecordingBackend, RecordingDriver, useRecordingBackend } from './recording-driver.js';

describe('bf16 training steps on the cuda backend (recording driver)', () => {
  const driver = new RecordingDriver();
  let cuda: CudaBackend;
  const [B, T] = [2, 16];

  beforeAll(async () => {
    cuda = await useRecordingBackend(driver, 'bf16');
  });
  afterAll(leaveRecordingBackend);

  // (The MoE layers' dispatch and LoRA's low-rank path are plain tfjs ops whose float32 outputs products read: converted each step.)
  const cases: [string, Parameters<typeof presetConfig>[1], 'dense' | 'moe' | 'lora'][] = [
    ['nano: no float32 values made from a bfloat16-only tensor, and no conversion pass after the first step', {}, 'dense'],
    ['nano with mixture-of-experts layers (the router is a projection): no float32 values made from a bfloat16-only tensor', { moe: { experts: 4, topK: 2, sharedExperts: 1, auxLossAlpha: 0.1, normTopK: true } }, 'moe'],
    ['a LoRA adapter on nano (the base frozen): no float32 values made from a bfloat16-only tensor', {}, 'lora'],
  ];
  for (const [label, overrides, kind] of cases) {
    it(label, () => {
      const [dense, lora] = [kind === 'dense', kind === 'lora'];
      const config = presetConfig('nano', { vocabSize: 96, ...overrides });
      const model = LlamaModel.create(config, 0);
      if (lora) LoraAdapter.create(model, { rank: 4, alpha: 8, dropout: 0, targetModules: Object.values(LORA_TARGETS) });
      const trainable = model.trainableParams();
      const adamw = new AdamW(trainable);
      const rng = new Rng(3);
      const batch = (): Batch => ({ inputs: Int32Array.from({ length: B * T }, () => rng.int(96)), targets: Int32Array.from({ length: B * T }, () => rng.int(96)) });
      const made = cuda.float32Made;
      trainStep(model, adamw, [batch()], B, 1e-3, 1);
      const first = driver.launches.length;
      for (let s = 0; s < 2; s++) trainStep(model, adamw, [batch()], B, 1e-3, 1);
      const later = driver.launches.slice(first);
      expect(cuda.float32Made - made).toBe(0);
      expect(later.filter((l) => l.kernel === 'adamw')).toHaveLength(2 * Math.ceil(trainable.size / 64)); // (the steps did run: a launch per 64 parameters)
      if (dense) {
        const conversions = later.filter((l) => l.kernel === 'to_bf16' || l.kernel === 'from_bf16').map((l) => [l.kernel, l.args[2]]);
        expect(conversions).toEqual([]);
      }
      adamw.dispose();
      model.dispose();
    });
  }
});
