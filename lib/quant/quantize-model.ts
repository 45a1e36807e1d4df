// Quantizing a model: every projection (of a whole number of 32-weight blocks) becomes a QuantizedLinear. Kept in
// float, by choice: the token embedding and the LM head (one row per token: a rare token's row has no
// neighbours to share a scale's error with, and the head's errors go straight into every logit), the
// RMSNorm gains (tiny), and a MoE router (its small logits pick the experts).
import type * as tf from '@tensorflow/tfjs';
import { Dense } from '../model/linear.js';
import { LlamaModel } from '../model/model.js';
import { QuantizedLinear } from '../model/quantized-linear.js';
import { quantFormat, type QuantType } from './types.js';

/** Whether the projection `name` of shape [out, in] is quantized as `type`. */
export function isQuantizable(name: string, outFeatures: number, inFeatures: number, type: QuantType): boolean {
  return !name.endsWith('.mlp.gate') && (outFeatures * inFeatures) % quantFormat(type).blockSize === 0;
}

/** A new model with the projections of `model` quantized as `type` (the rest shares its tensors' values). */
export function quantizeModel(model: LlamaModel, type: QuantType, source = 'the model'): LlamaModel {
  quantFormat(type); // an unknown type fails here, before any work
  if (model.quantization) throw new Error(`${source}: already quantized (${model.quantization}); quantize the float model it was made from`);
  if (model.adapter) throw new Error(`${source}: has a LoRA adapter attached; merge it first (tinyllm lora merge)`);
  const quantized = new Map<string, QuantizedLinear>();
  for (const slot of model.projections) {
    const linear = slot.get();
    if (linear instanceof Dense && isQuantizable(slot.name, linear.outFeatures, linear.inFeatures, type)) quantized.set(slot.name, QuantizedLinear.fromWeight(type, linear.weight));
  }
  if (quantized.size === 0) throw new Error(`${source}: no projection is a whole number of ${quantFormat(type).blockSize}-weight blocks; nothing to quantize`);
  const tensors = new Map<string, tf.Tensor>([...model.params].filter(([name]) => !quantized.has(name.replace(/\.weight$/, ''))));
  return new LlamaModel(model.config, tensors, source, quantized);
}
