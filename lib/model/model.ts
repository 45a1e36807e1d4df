// The decoder: token embedding → L blocks (pre-norm attention and MLP, each added to the residual
// stream) → final RMSNorm → LM head. Parameters live in a map under Hugging Face LlamaForCausalLM's
// names, weights [out, in], so a model directory converts to and from safetensors name for name; the
// layers are built from that map once, each projection a `Linear`, so a forward pass looks up nothing.
import * as tf from '@tensorflow/tfjs';
import { attention, type AttentionWeights } from './attention.js';
import { KvCache, type KvPlacement } from './kv-cache.js';
import { checkConfig, headDim, type ModelConfig } from './config.js';
import { Dense, linear, type Linear } from './linear.js';
import type { LoraAdapter } from './lora.js';
import type { QuantizedLinear } from './quantized-linear.js';
import type { QuantType } from '../quant/types.js';
import { headCrossEntropy, meanLoss } from './loss.js';
import { swiglu, type MlpWeights } from './mlp.js';
import { moe, type MoeWeights } from './moe.js';
import { addRmsNorm, rmsNorm } from './rmsnorm.js';
import { ropeTables, type RopeTables } from './rope.js';

/** Every parameter's name and shape, in Hugging Face's order. */
export function parameterShapes(config: ModelConfig): [name: string, shape: number[]][] {
  const { vocabSize: V, hidden: D, ffn: F, heads: H, kvHeads: K } = config;
  const dh = headDim(config);
  const mlp = (prefix: string): [string, number[]][] => [
    [`${prefix}.gate_proj.weight`, [F, D]], [`${prefix}.up_proj.weight`, [F, D]], [`${prefix}.down_proj.weight`, [D, F]],
  ];
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [V, D]]];
  for (let i = 0; i < config.layers; i++) {
    const p = `model.layers.${i}`;
    shapes.push(
      [`${p}.input_layernorm.weight`, [D]],
      [`${p}.self_attn.q_proj.weight`, [H * dh, D]],
      [`${p}.self_attn.k_proj.weight`, [K * dh, D]],
      [`${p}.self_attn.v_proj.weight`, [K * dh, D]],
      [`${p}.self_attn.o_proj.weight`, [D, H * dh]],
      [`${p}.post_attention_layernorm.weight`, [D]],
    );
    if (config.moe) {
      shapes.push([`${p}.mlp.gate.weight`, [config.moe.experts, D]]);
      for (let e = 0; e < config.moe.experts; e++) shapes.push(...mlp(`${p}.mlp.experts.${e}`));
      for (let s = 0; s < config.moe.sharedExperts; s++) shapes.push(...mlp(`${p}.mlp.shared_experts.${s}`));
    } else {
      shapes.push(...mlp(`${p}.mlp`));
    }
  }
  shapes.push(['model.norm.weight', [D]]);
  if (!config.tieEmbeddings) shapes.push(['lm_head.weight', [V, D]]);
  return shapes;
}

/** What forward() returns. */
export interface ForwardResult {
  logits: tf.Tensor3D; // [B, T, V]
  /** Sum of the MoE layers' load-balancing losses (0 without MoE). */
  auxLoss: tf.Scalar;
}

/** Options of forward(). */
export interface ForwardOptions {
  /** Decode incrementally: ids are the positions after those this cache holds, which it then holds too. */
  cache?: KvCache;
  /** The cache row of each batch row (default 0 … B−1): a batch decoder's running sequences. */
  cacheRows?: readonly number[];
  /**
   * Where the new positions go, made beforehand instead of by cache.place() — a CUDA graph's inputs,
   * refilled between replays; the caller then advances the cache's lengths.
   */
  placement?: KvPlacement;
}

/** One decoder block: its norms' gains [D] and its projections. */
export interface DecoderLayer {
  inputNorm: tf.Variable; // [D]
  attention: AttentionWeights;
  postNorm: tf.Variable; // [D]
  /** The MLP, or the mixture of experts in its place (config.moe). */
  mlp: MlpWeights | MoeWeights;
}

/** One projection of the model by its Hugging Face module name (e.g. `model.layers.0.self_attn.q_proj`), replaceable. */
export interface ProjectionSlot {
  name: string;
  get(): Linear;
  /** Put another kind of Linear in its place (a LoRA adapter around it, a quantized copy). */
  set(linear: Linear): void;
}

/** A Llama-style decoder with its parameters. */
export class LlamaModel {
  readonly config: ModelConfig;
  /** Parameters by Hugging Face name. */
  readonly params: Map<string, tf.Variable>;
  /** The decoder blocks, built from params once (the same variables). */
  readonly layers: DecoderLayer[];
  /** Every projection in the layers, in parameter order: where other Linear kinds plug in. */
  readonly projections: ProjectionSlot[] = [];
  /** Names of the parameters training updates (all, unless frozen with setTrainable). */
  readonly trainable = new Set<string>();
  /** Projections stored as quantized blocks, by module name (not in params: they never train). */
  readonly quantized: Map<string, QuantizedLinear>;
  /** Their block format, or null for a float model. */
  readonly quantization: QuantType | null;
  /** The LoRA adapter plugged into its projections, if any (LoraAdapter sets it); its A and B train. */
  adapter: LoraAdapter | null = null;
  /** Set by trainStep while a training forward and backward run: dropout draws its masks from this seed (exact resume). */
  training: { seed: number } | null = null;
  private readonly embedding: tf.Variable; // [V, D]
  private readonly finalNorm: tf.Variable; // [D]
  private readonly headWeight: tf.Variable; // [V, D]: the embedding itself when tied
  private readonly rope: RopeTables;

  /**
   * Wrap existing tensors (checked against the config's names and shapes; `source` names them in
   * errors). Projections given as quantized blocks (`quantized`, by module name such as
   * `model.layers.0.mlp.down_proj`) take the place of their weight tensors.
   */
  constructor(config: ModelConfig, tensors: Map<string, tf.Tensor>, source = 'parameters', quantized = new Map<string, QuantizedLinear>()) {
    this.config = checkConfig(config);
    this.quantized = quantized;
    const types = new Set([...quantized.values()].map((q) => q.type));
    if (types.size > 1) throw new Error(`${source}: projections quantized as ${[...types].join(' and ')}, expected one type`);
    this.quantization = types.size === 1 ? [...types][0]! : null;
    const stored = new Set<string>();
    for (const [module, q] of quantized) {
      const name = `${module}.weight`;
      const shape = parameterShapes(config).find(([n]) => n === name)?.[1];
      if (!shape) throw new Error(`${source}: ${name}: not a projection of this config`);
      if (q.outFeatures !== shape[0] || q.inFeatures !== shape[1]) throw new Error(`${source}: ${name}: quantized as [${q.outFeatures}, ${q.inFeatures}], expected [${shape}]`);
      if (tensors.has(name)) throw new Error(`${source}: ${name}: given both as a tensor and as quantized blocks`);
      stored.add(name);
    }
    const expected = parameterShapes(config).filter(([name]) => !stored.has(name));
    for (const [name, shape] of expected) {
      const t = tensors.get(name);
      if (!t) throw new Error(`${source}: ${name}: missing, expected a tensor of shape [${shape}]`);
      if (t.shape.join() !== shape.join()) throw new Error(`${source}: ${name}: shape [${t.shape}], expected [${shape}]`);
    }
    const names = new Set(expected.map(([n]) => n));
    for (const name of tensors.keys()) if (!names.has(name)) throw new Error(`${source}: ${name}: not a parameter of this config`);
    this.params = new Map(expected.map(([name]) => [name, tf.variable(tensors.get(name)!, true)]));
    for (const name of this.params.keys()) this.trainable.add(name);
    const p = (name: string) => this.params.get(name)!;
    const dense = (prefix: string): Linear => quantized.get(prefix) ?? new Dense(p(`${prefix}.weight`));
    const mlp = (prefix: string): MlpWeights => ({ gate: dense(`${prefix}.gate_proj`), up: dense(`${prefix}.up_proj`), down: dense(`${prefix}.down_proj`) });
    this.layers = Array.from({ length: config.layers }, (_, i) => {
      const prefix = `model.layers.${i}`;
      const moeConfig = config.moe;
      return {
        inputNorm: p(`${prefix}.input_layernorm.weight`),
        attention: { q: dense(`${prefix}.self_attn.q_proj`), k: dense(`${prefix}.self_attn.k_proj`), v: dense(`${prefix}.self_attn.v_proj`), o: dense(`${prefix}.self_attn.o_proj`) },
        postNorm: p(`${prefix}.post_attention_layernorm.weight`),
        mlp: moeConfig
          ? {
            router: dense(`${prefix}.mlp.gate`),
            experts: Array.from({ length: moeConfig.experts }, (_, e) => mlp(`${prefix}.mlp.experts.${e}`)),
            shared: Array.from({ length: moeConfig.sharedExperts }, (_, s) => mlp(`${prefix}.mlp.shared_experts.${s}`)),
          }
          : mlp(`${prefix}.mlp`),
      };
    });
    this.layers.forEach((layer, i) => {
      const prefix = `model.layers.${i}`;
      for (const key of ['q', 'k', 'v', 'o'] as const) this.addSlot(layer.attention, key, `${prefix}.self_attn.${key}_proj`);
      const mlpSlots = (m: MlpWeights, name: string) => (['gate', 'up', 'down'] as const).forEach((key) => this.addSlot(m, key, `${name}.${key}_proj`));
      if ('router' in layer.mlp) {
        this.addSlot(layer.mlp, 'router', `${prefix}.mlp.gate`);
        layer.mlp.experts.forEach((e, j) => mlpSlots(e, `${prefix}.mlp.experts.${j}`));
        layer.mlp.shared.forEach((e, j) => mlpSlots(e, `${prefix}.mlp.shared_experts.${j}`));
      } else {
        mlpSlots(layer.mlp, `${prefix}.mlp`);
      }
    });
    this.embedding = p('model.embed_tokens.weight');
    this.finalNorm = p('model.norm.weight');
    this.headWeight = p(config.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
    this.rope = ropeTables(headDim(config), config.maxSeq, config.ropeTheta);
  }

  /**
   * A freshly initialised model: weights ~ N(0, 0.02), the projections that write into the residual
   * stream (o_proj, down_proj) scaled by 1/√(2·layers) so its variance does not grow with depth
   * (GPT-2's rule), norms at 1. Seeded: the same seed gives the same weights on every backend.
   */
  static create(config: ModelConfig, seed = 0): LlamaModel {
    const tensors = new Map<string, tf.Tensor>();
    parameterShapes(config).forEach(([name, shape], i) => {
      const residual = /(o_proj|down_proj)\.weight$/.test(name);
      const std = residual ? 0.02 / Math.sqrt(2 * config.layers) : 0.02;
      // tfjs takes a seed of 0 as "no seed" (Math.random()): the first tensor of seed 0 gets −1 instead.
      const tensorSeed = seed * 100_003 + i || -1;
      tensors.set(name, name.includes('norm') ? tf.ones(shape) : tf.randomNormal(shape, 0, std, 'float32', tensorSeed));
    });
    const model = new LlamaModel(config, tensors);
    tensors.forEach((t) => t.dispose()); // tf.variable() copied them
    return model;
  }

  /** Parameter count of this model (equals countParameters(config)), quantized weights included. */
  get parameterCount(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    for (const q of this.quantized.values()) n += q.outFeatures * q.inFeatures;
    return n;
  }

  private addSlot<K extends string>(holder: Record<K, Linear>, key: K, name: string): void {
    this.projections.push({ name, get: () => holder[key], set: (linear) => { holder[key] = linear; } });
  }

  /** All parameters, trainable or not. */
  variables(): tf.Variable[] {
    return [...this.params.values()];
  }

  /** Train only the parameters whose name passes `keep`; the others are frozen (no gradient, no optimizer state). */
  setTrainable(keep: (name: string) => boolean): void {
    this.trainable.clear();
    for (const [name, v] of this.params) {
      v.trainable = keep(name);
      if (v.trainable) this.trainable.add(name);
    }
  }

  /** The trainable parameters by name — the base's not frozen, and an adapter's: what gets gradients and optimizer state. */
  trainableParams(): Map<string, tf.Variable> {
    return new Map([...[...this.params].filter(([name]) => this.trainable.has(name)), ...(this.adapter?.params ?? [])]);
  }

  /** Logits for ids [B, T] (int32). Call inside tf.tidy or dispose the result. */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): ForwardResult {
    return tf.tidy(() => {
      const { h, auxLoss } = this.hidden(ids, options);
      return { logits: linear(h, this.headWeight) as tf.Tensor3D, auxLoss: auxLoss ?? tf.scalar(0) };
    });
  }

  /**
   * Training loss: mean next-token cross-entropy of predicting targets [B, T] from inputs [B, T]
   * (weighted per token when `weights` [B, T] is given), plus the MoE balancing loss.
   */
  loss(inputs: tf.Tensor2D, targets: tf.Tensor2D, weights?: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => {
      const { h, auxLoss } = this.hidden(inputs);
      const loss = meanLoss(headCrossEntropy(h, this.headWeight as tf.Tensor2D, targets), weights);
      return (auxLoss ? tf.add(loss, auxLoss) : loss) as tf.Scalar;
    });
  }

  /**
   * log p(targets[b, t] | inputs[b, ≤t]) for inputs and targets [B, T]: [B, T]. Through the fused head
   * where the backend has one, so no [B, T, V] logits are made; differentiable (SFT, DPO, scoring).
   */
  tokenLogProbs(inputs: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.neg(headCrossEntropy(this.hidden(inputs).h, this.headWeight as tf.Tensor2D, targets)) as tf.Tensor2D);
  }

  /**
   * Logits [B, V] at one position per row (positions [B], int32; default each row's last): the
   * next-token distribution after a prompt without making [B, T, V] (right-padded prompts read each row
   * at its own last token; decoding reads the last, with `options` giving the KV cache as forward() takes it).
   */
  logitsAt(ids: tf.Tensor2D, positions?: tf.Tensor1D, options: ForwardOptions = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const [B, T] = ids.shape;
      const h = this.hidden(ids, options).h; // [B, T, D]
      if (!positions) return linear(tf.reshape(tf.slice(h, [0, T - 1, 0], [B, 1, -1]), [B, -1]), this.headWeight) as tf.Tensor2D; // [B, V]
      const rows = tf.add(tf.mul(tf.range(0, B, 1, 'int32'), tf.scalar(T, 'int32')), positions); // b·T + position
      return linear(tf.gather(tf.reshape(h, [B * T, -1]), rows), this.headWeight) as tf.Tensor2D; // [B, V]
    });
  }

  /** The final hidden states [B, T, D] (after the last RMSNorm) that the LM head reads. */
  private hidden(ids: tf.Tensor2D, options: ForwardOptions = {}): { h: tf.Tensor3D; auxLoss: tf.Scalar | null } {
    const c = this.config;
    const [B, T] = ids.shape;
    const cacheRows = options.cacheRows ?? Array.from({ length: B }, (_, b) => b);
    const placement = options.placement ?? options.cache?.place(cacheRows, T); // where every layer writes this pass's keys and values
    let h = tf.gather(this.embedding, ids) as tf.Tensor3D; // [B, T, D]: the residual stream
    let auxLoss: tf.Scalar | null = null; // the MoE layers' (no tensor without them: a CUDA graph has no host copies)
    let normed = rmsNorm(h, this.layers[0]!.inputNorm, c.normEps) as tf.Tensor3D;
    this.layers.forEach((layer, i) => {
      const attended = attention(normed, layer.attention, {
        heads: c.heads, kvHeads: c.kvHeads, rope: this.rope,
        cache: placement ? { store: options.cache!, layer: i, placement } : undefined,
      });
      let normed2: tf.Tensor;
      [h, normed2] = addRmsNorm(h, attended, layer.postNorm, c.normEps) as [tf.Tensor3D, tf.Tensor];
      let mlpOut: tf.Tensor;
      if (c.moe) {
        const routed = moe(normed2, layer.mlp as MoeWeights, c.moe);
        mlpOut = routed.y;
        auxLoss = auxLoss ? tf.add(auxLoss, routed.auxLoss) as tf.Scalar : routed.auxLoss;
      } else {
        mlpOut = swiglu(normed2, layer.mlp as MlpWeights);
      }
      // The next layer's input norm (the last sum feeds only the final norm, after this loop).
      if (i + 1 < this.layers.length) [h, normed] = addRmsNorm(h, mlpOut, this.layers[i + 1]!.inputNorm, c.normEps) as [tf.Tensor3D, tf.Tensor3D];
      else h = tf.add(h, mlpOut) as tf.Tensor3D;
    });
    if (!options.placement) options.cache?.advance(cacheRows, T);
    return { h: rmsNorm(h, this.finalNorm, c.normEps) as tf.Tensor3D, auxLoss };
  }

  /** A KV cache for this model: `rows` sequences of up to `capacity` positions (default the context length). */
  newCache(rows = 1, capacity = this.config.maxSeq): KvCache {
    const c = this.config;
    return new KvCache({ layers: c.layers, rows, capacity, kvHeads: c.kvHeads, headDim: headDim(c) });
  }

  /** Free the parameters, any adapter and the tables. */
  dispose(): void {
    this.adapter?.detach();
    tf.dispose([...this.params.values(), ...[...this.quantized.values()].map((q) => q.blocks), this.rope.cos, this.rope.sin]);
  }
}
