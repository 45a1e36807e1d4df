// LoRA (Hu et al. 2021): fine-tune a frozen weight W [out, in] through a low-rank update,
//   y = x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ,   A [r, in], B [out, r],
// so that only r·(in + out) numbers per projection train instead of in·out. B starts at zero (the model
// starts exactly as the base), A random as Hugging Face `peft` draws it. An adapter wraps chosen
// projections of a model (any `Linear` slot: q, k, v, o, gate, up, down) and can be merged into the
// weights (W += (α/r)·B·A) or taken off again. Parameter names follow `peft`: the module's name, then
// `.lora_A.weight` / `.lora_B.weight`.
import * as tf from '@tensorflow/tfjs';
import { Dense, linear, type Linear } from './linear.js';
import { checkLoraConfig, isTargeted, LORA_TARGETS, loraScale, type LoraConfig } from './lora-config.js';
import type { LlamaModel, ProjectionSlot } from './model.js';

export { LORA_TARGETS, type LoraConfig } from './lora-config.js';

/** A frozen projection plus a trainable low-rank update. */
export class LoraLinear implements Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(
    readonly base: Linear,
    readonly a: tf.Variable, // [r, in]
    readonly b: tf.Variable, // [out, r]
    readonly scale: number,
    readonly dropout: number,
    /** The model: while it trains (training set), dropout draws its mask from training.seed + `index`. */
    private readonly model: Pick<LlamaModel, 'training'>,
    private readonly index: number,
  ) {
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const training = this.model.training;
      const input = training && this.dropout > 0 ? tf.dropout(x, this.dropout, undefined, training.seed * 1009 + this.index) : x;
      // The scale goes on B [out, r], not on the product [..., out]: one small multiply, and no
      // activation-sized tensor kept for the backward pass.
      const update = linear(linear(input, this.a), tf.mul(this.b, this.scale)); // [..., out]: (α/r)·(x·Aᵀ)·Bᵀ
      return tf.add(this.base.apply(x), update);
    });
  }
}

/** An adapter attached to a model: its config, its A and B per adapted module, and the slots it occupies. */
export class LoraAdapter {
  /** A and B by peft name without the `base_model.model.` prefix, e.g. `model.layers.0.self_attn.q_proj.lora_A.weight`. */
  readonly params = new Map<string, tf.Variable>();
  private readonly wrapped: { slot: ProjectionSlot; lora: LoraLinear }[] = [];

  private constructor(readonly model: LlamaModel, readonly config: LoraConfig) {}

  /**
   * Wrap every projection of `model` that the config targets with a new adapter: A ~ U(±1/√in)
   * (peft's Kaiming-uniform draw), B = 0. The base parameters are frozen; A and B are what trains.
   */
  static create(model: LlamaModel, config: LoraConfig, seed = 0): LoraAdapter {
    return LoraAdapter.attach(model, config, 'the model', (name, shape, i) => {
      const [rows, cols] = shape;
      if (name.endsWith('lora_B.weight')) return tf.zeros([rows, cols]);
      const bound = 1 / Math.sqrt(cols);
      return tf.randomUniform([rows, cols], -bound, bound, 'float32', seed * 100_003 + i + 1);
    });
  }

  /** Attach stored A and B tensors (a saved adapter) to `model`; `files` name the config and the weights in errors. */
  static load(model: LlamaModel, config: LoraConfig, tensors: Map<string, tf.Tensor>, files: { config: string; weights: string }): LoraAdapter {
    const source = files.weights;
    const adapter = LoraAdapter.attach(model, config, files.config, (name, shape) => {
      const t = tensors.get(name);
      if (!t) throw new Error(`${source}: base_model.model.${name}: missing, expected a tensor of shape [${shape}] for the adapted module`);
      if (t.shape.join() !== shape.join()) throw new Error(`${source}: base_model.model.${name}: shape [${t.shape}], expected [${shape}] for this model (rank ${config.rank})`);
      return t;
    });
    for (const name of tensors.keys()) {
      if (!adapter.params.has(name)) {
        adapter.detach();
        throw new Error(`${source}: base_model.model.${name}: not a LoRA weight of the modules target_modules ${JSON.stringify(config.targetModules)} picks in this model`);
      }
    }
    return adapter;
  }

  private static attach(model: LlamaModel, config: LoraConfig, source: string, init: (name: string, shape: [number, number], i: number) => tf.Tensor): LoraAdapter {
    checkLoraConfig(config, source);
    if (model.adapter) throw new Error(`${source}: the model already has an adapter; detach or merge it first`);
    const slots = model.projections.filter((slot) => isTargeted(config, slot.name));
    if (slots.length === 0) throw new Error(`${source}: target_modules: ${JSON.stringify(config.targetModules)} match no projection of this model, expected names such as ${Object.values(LORA_TARGETS).join(', ')}`);
    const adapter = new LoraAdapter(model, config);
    const scale = loraScale(config);
    try {
      slots.forEach((slot, i) => {
        const base = slot.get();
        const variable = (suffix: string, shape: [number, number], j: number) => {
          const name = `${slot.name}.${suffix}`;
          const v = tf.tidy(() => tf.variable(init(name, shape, 2 * i + j), true));
          adapter.params.set(name, v);
          return v;
        };
        const a = variable('lora_A.weight', [config.rank, base.inFeatures], 0);
        const b = variable('lora_B.weight', [base.outFeatures, config.rank], 1);
        const lora = new LoraLinear(base, a, b, scale, config.dropout, model, i);
        adapter.wrapped.push({ slot, lora });
      });
    } catch (err) {
      tf.dispose([...adapter.params.values()]);
      throw err;
    }
    for (const { slot, lora } of adapter.wrapped) slot.set(lora);
    model.setTrainable(() => false);
    model.adapter = adapter;
    return adapter;
  }

  /** Adapted module names, in model order. */
  get modules(): string[] {
    return this.wrapped.map((w) => w.slot.name);
  }

  /** Take the adapter off: the original projections go back, A and B are freed, the base trains again. */
  detach(): void {
    for (const { slot, lora } of this.wrapped) slot.set(lora.base);
    tf.dispose([...this.params.values()]);
    this.params.clear();
    this.wrapped.length = 0;
    this.model.adapter = null;
    this.model.setTrainable(() => true);
  }

  /** Fold the update into the base weights (W += (α/r)·B·A) and detach: the model then computes what the adapter did. */
  merge(): void {
    for (const { slot, lora } of this.wrapped) {
      if (!(lora.base instanceof Dense) || !(lora.base.weight instanceof tf.Variable)) throw new Error(`merge: ${slot.name}: the base is not a plain weight, expected Dense projections`);
      const weight = lora.base.weight;
      tf.tidy(() => weight.assign(tf.add(weight, tf.mul(tf.matMul(lora.b, lora.a), lora.scale)))); // [out, in]
    }
    this.detach();
  }
}
