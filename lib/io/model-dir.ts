// Model directories, the unit every stage passes around, readable by Hugging Face transformers and
// llama.cpp's converter: config.json (LlamaConfig keys), model.safetensors (HF parameter names),
// generation_config.json, and the tokenizer files when there is a tokenizer. A quantized model
// (tinyllm quantize) stores its projections as GGUF blocks in U8 tensors and says so in config.json's
// quantization_config; transformers cannot load that one, our every command can.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { checkConfig, type ModelConfig } from '../model/config.js';
import { LlamaModel, parameterShapes } from '../model/model.js';
import { QuantizedLinear } from '../model/quantized-linear.js';
import { QUANT_FORMATS, quantFormat, type QuantType } from '../quant/types.js';
import { loadTokenizer, saveTokenizer } from '../tokenizer/files.js';
import { ENDOFTEXT, IM_END } from '../tokenizer/special.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { writeFileAtomic } from './atomic.js';
import { readSafetensors, writeSafetensors, type StoredBytes, type StoredTensor } from './safetensors.js';

/** Options of saveModelDir. */
export interface SaveOptions {
  tokenizer?: Tokenizer;
  /** Storage precision of the weights (training always uses float32). */
  dtype?: 'float32' | 'bfloat16';
}

/** Write a model (and tokenizer) as a Hugging Face model directory; each file atomically. */
export function saveModelDir(model: LlamaModel, dir: string, options: SaveOptions = {}): void {
  mkdirSync(dir, { recursive: true });
  const tokenizer = options.tokenizer;
  const special = (s: string) => (tokenizer?.specials.some((t) => t.content === s) ? tokenizer.specialId(s) : null);
  // No BOS: our tokenizers never prepend one (tokenizer_config.json says bos_token null, add_bos_token
  // false); <|im_start|> opens a chat message, not a sequence.
  const ids = { bos: null, eos: special(IM_END), pad: special(ENDOFTEXT) };
  const dtype = options.dtype ?? 'float32';
  const quantization = model.quantization ? { quantization_config: quantizationConfig(model.quantization) } : {};
  writeJson(join(dir, 'config.json'), { ...toHfConfig(model.config), torch_dtype: dtype, bos_token_id: ids.bos, eos_token_id: ids.eos, ...quantization });
  writeJson(join(dir, 'generation_config.json'), {
    bos_token_id: ids.bos,
    eos_token_id: [ids.eos, ids.pad].filter((id) => id !== null),
    pad_token_id: ids.pad,
  });
  const tensors = new Map<string, StoredTensor>();
  for (const [name, v] of model.params) tensors.set(name, { shape: v.shape, values: v.dataSync() as Float32Array });
  const blocks = new Map<string, StoredBytes>();
  for (const [module, q] of model.quantized) {
    const bytes = q.bytes(); // the blocks of the flattened weight
    blocks.set(`${module}.weight`, { shape: [bytes.length], bytes });
  }
  writeSafetensors(join(dir, 'model.safetensors'), tensors, dtype === 'bfloat16' ? 'BF16' : 'F32', {}, blocks);
  if (tokenizer) saveTokenizer(tokenizer, dir, { modelMaxLength: model.config.maxSeq });
}

/** A model directory's config (from config.json), without loading its weights. */
export function readModelConfig(dir: string): ModelConfig {
  const { raw, file } = readConfigJson(dir);
  return fromHfConfig(raw, file);
}

/** The block format a model directory's projections are stored in (config.json's quantization_config), or null. */
export function readQuantization(dir: string): QuantType | null {
  const { raw, file } = readConfigJson(dir);
  const q = (raw as Record<string, unknown>).quantization_config;
  if (q === undefined || q === null) return null;
  const type = (q as Record<string, unknown>).type;
  if ((q as Record<string, unknown>).quant_method !== 'tinyllm' || typeof type !== 'string' || !(type in QUANT_FORMATS)) {
    throw new Error(`${file}: quantization_config: ${JSON.stringify(q)}, expected {"quant_method": "tinyllm", "type": one of ${Object.keys(QUANT_FORMATS).join(', ')}}`);
  }
  return type as QuantType;
}

/** The precision a model directory's float weights are stored in (config.json's torch_dtype; float32 when absent). */
export function readStorageDtype(dir: string): 'float32' | 'bfloat16' {
  return (readConfigJson(dir).raw as Record<string, unknown>).torch_dtype === 'bfloat16' ? 'bfloat16' : 'float32';
}

/** config.json's record of a quantization. */
function quantizationConfig(type: QuantType): Record<string, unknown> {
  const { blockSize, blockBytes } = quantFormat(type);
  return { quant_method: 'tinyllm', type, block_size: blockSize, block_bytes: blockBytes, kept_in_float: ['model.embed_tokens', 'lm_head', 'norms', 'mlp.gate (MoE router)'] };
}

function readConfigJson(dir: string): { raw: object; file: string } {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new Error(`${dir}: no config.json, expected a model directory`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null) throw new Error(`${file}: expected a JSON object`);
  return { raw, file };
}

/** Load a model directory (float or quantized); the tokenizer is there when the directory has tokenizer.json. */
export function loadModelDir(dir: string): { model: LlamaModel; tokenizer: Tokenizer | null } {
  const config = readModelConfig(dir);
  const quantization = readQuantization(dir);
  const weightsFile = join(dir, 'model.safetensors');
  const { tensors, bytes } = readSafetensors(weightsFile);
  const params = new Map<string, tf.Tensor>();
  const quantized = new Map<string, QuantizedLinear>();
  try {
    for (const [name, t] of tensors) params.set(name, tf.tensor(t.values, t.shape));
    if (config.tieEmbeddings && params.has('lm_head.weight')) {
      // Some writers store the tied head anyway; the embedding is the one we use.
      params.get('lm_head.weight')!.dispose();
      params.delete('lm_head.weight');
    }
    const shapes = new Map(parameterShapes(config));
    for (const [name, b] of bytes) {
      if (!quantization) throw new Error(`${weightsFile}: ${name}: U8 blocks, but ${join(dir, 'config.json')} has no quantization_config`);
      const shape = shapes.get(name);
      if (!shape || shape.length !== 2) throw new Error(`${weightsFile}: ${name}: not a projection weight of this config`);
      const [rows, cols] = shape as [number, number];
      const expected = QuantizedLinear.byteLength(quantFormat(quantization), rows, cols);
      if (b.bytes.length !== expected) throw new Error(`${weightsFile}: ${name}: ${b.bytes.length} bytes, expected ${expected} for [${shape}] in ${quantization}`);
      quantized.set(name.replace(/\.weight$/, ''), QuantizedLinear.fromBytes(quantization, rows, cols, b.bytes));
    }
    return { model: new LlamaModel(config, params, weightsFile, quantized), tokenizer: existsSync(join(dir, 'tokenizer.json')) ? loadTokenizer(dir) : null };
  } catch (err) {
    quantized.forEach((q) => q.dispose());
    throw err;
  } finally {
    params.forEach((t) => t.dispose());
  }
}

/** The eos ids of a model directory's generation_config.json (one id or a list); null when it names none. */
export function readEosIds(dir: string): number[] | null {
  const file = join(dir, 'generation_config.json');
  if (!existsSync(file)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null) throw new Error(`${file}: expected a JSON object`);
  const eos = (raw as Record<string, unknown>).eos_token_id;
  if (eos === undefined || eos === null) return null;
  const ids: unknown[] = Array.isArray(eos) ? eos : [eos];
  if (!ids.every((id) => Number.isInteger(id) && (id as number) >= 0)) {
    throw new Error(`${file}: eos_token_id: ${JSON.stringify(eos)}, expected a token id or a list of token ids`);
  }
  return ids.length > 0 ? (ids as number[]) : null;
}

/** Our config as LlamaConfig keys (plus our MoE keys, which only we read). */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  return {
    architectures: [c.moe ? 'TinyLlmMoeForCausalLM' : 'LlamaForCausalLM'],
    model_type: c.moe ? 'tinyllm_moe' : 'llama',
    vocab_size: c.vocabSize,
    hidden_size: c.hidden,
    intermediate_size: c.ffn,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    head_dim: c.hidden / c.heads,
    max_position_embeddings: c.maxSeq,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: c.tieEmbeddings,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    initializer_range: 0.02,
    ...(c.moe ? {
      num_experts: c.moe.experts, num_experts_per_tok: c.moe.topK, n_shared_experts: c.moe.sharedExperts,
      aux_loss_alpha: c.moe.auxLossAlpha, norm_topk_prob: c.moe.normTopK,
    } : {}),
  };
}

/** Read LlamaConfig keys into our config; errors name the file and the key. */
export function fromHfConfig(raw: unknown, file: string): ModelConfig {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${file}: expected a JSON object`);
  const j = raw as Record<string, unknown>;
  const int = (key: string, fallback?: number): number => {
    const v = j[key] ?? fallback;
    if (!Number.isInteger(v) || (v as number) <= 0) throw new Error(`${file}: ${key}: ${JSON.stringify(j[key])}, expected a positive integer`);
    return v as number;
  };
  const num = (key: string, fallback: number): number => {
    const v = j[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) throw new Error(`${file}: ${key}: ${JSON.stringify(j[key])}, expected a positive number`);
    return v;
  };
  const arch = (j.architectures as string[] | undefined)?.[0];
  if (arch !== 'LlamaForCausalLM' && arch !== 'TinyLlmMoeForCausalLM') throw new Error(`${file}: architectures: ${JSON.stringify(j.architectures)}, expected ["LlamaForCausalLM"]`);
  if (j.rope_scaling) throw new Error(`${file}: rope_scaling: ${JSON.stringify(j.rope_scaling)} is not supported, expected null`);
  if (j.attention_bias || j.mlp_bias) throw new Error(`${file}: attention_bias/mlp_bias: true is not supported, expected false`);
  if (j.hidden_act !== undefined && j.hidden_act !== 'silu') throw new Error(`${file}: hidden_act: ${JSON.stringify(j.hidden_act)}, expected "silu"`);
  const hidden = int('hidden_size');
  const heads = int('num_attention_heads');
  if (j.head_dim !== undefined && j.head_dim !== null && j.head_dim !== hidden / heads) {
    throw new Error(`${file}: head_dim: ${j.head_dim} is not hidden_size / num_attention_heads (${hidden / heads}), which we require`);
  }
  const config: ModelConfig = {
    vocabSize: int('vocab_size'),
    hidden,
    ffn: int('intermediate_size'),
    layers: int('num_hidden_layers'),
    heads,
    kvHeads: int('num_key_value_heads', heads),
    maxSeq: int('max_position_embeddings'),
    ropeTheta: num('rope_theta', 10000),
    normEps: num('rms_norm_eps', 1e-6),
    tieEmbeddings: j.tie_word_embeddings === true,
    moe: arch === 'TinyLlmMoeForCausalLM' ? {
      experts: int('num_experts'), topK: int('num_experts_per_tok'), sharedExperts: (j.n_shared_experts as number) ?? 0,
      auxLossAlpha: (j.aux_loss_alpha as number) ?? 0, normTopK: j.norm_topk_prob === true,
    } : null,
  };
  return checkConfig(config, file);
}

function writeJson(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
