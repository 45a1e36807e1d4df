// LoRA adapters on disk in Hugging Face `peft`'s layout, so that adapters go both ways between us and
// Python: an adapter directory holds adapter_config.json (peft's LoraConfig fields) and
// adapter_model.safetensors with names such as
//   base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight   [r, in]
//   base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight   [out, r]
// `peft.PeftModel.from_pretrained(base, dir)` loads what saveAdapter writes, and loadAdapter reads
// adapters peft saved (the LoRA features we implement; others are refused by name).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { checkLoraConfig, type LoraConfig } from '../model/lora-config.js';
import { LoraAdapter } from '../model/lora.js';
import type { LlamaModel } from '../model/model.js';
import { loadTokenizer, saveTokenizer } from '../tokenizer/files.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { writeFileAtomic } from './atomic.js';
import { loadModelDir } from './model-dir.js';
import { readSafetensors, writeSafetensors, type StoredTensor } from './safetensors.js';

/** peft's prefix in front of the model's own parameter names. */
const PREFIX = 'base_model.model.';
export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** Whether a directory holds an adapter (rather than a whole model). */
export function isAdapterDir(dir: string): boolean {
  return existsSync(join(dir, ADAPTER_CONFIG));
}

/** Write an adapter as peft does (each file atomically); `baseModel` is recorded as base_model_name_or_path. */
export function saveAdapter(adapter: LoraAdapter, dir: string, options: { baseModel?: string; tokenizer?: Tokenizer } = {}): void {
  mkdirSync(dir, { recursive: true });
  const c = adapter.config;
  const config = {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: options.baseModel ?? null, revision: null,
    r: c.rank, lora_alpha: c.alpha, lora_dropout: c.dropout, target_modules: c.targetModules, use_rslora: c.rslora ?? false,
    bias: 'none', fan_in_fan_out: false, use_dora: false, init_lora_weights: true, inference_mode: true,
    modules_to_save: null, layers_to_transform: null, layers_pattern: null, rank_pattern: {}, alpha_pattern: {},
  };
  writeFileAtomic(join(dir, ADAPTER_CONFIG), `${JSON.stringify(config, null, 2)}\n`);
  const tensors = new Map<string, StoredTensor>();
  for (const [name, v] of adapter.params) tensors.set(`${PREFIX}${name}`, { shape: v.shape, values: v.dataSync() as Float32Array });
  writeSafetensors(join(dir, ADAPTER_WEIGHTS), tensors);
  if (options.tokenizer) saveTokenizer(options.tokenizer, dir);
}

/** Read and check adapter_config.json: the LoRA config, or a one-line error naming the file and field. */
export function readAdapterConfig(dir: string): LoraConfig & { baseModel: string | null } {
  const file = join(dir, ADAPTER_CONFIG);
  if (!existsSync(file)) throw new Error(`${dir}: no ${ADAPTER_CONFIG}, expected a LoRA adapter directory (adapter_config.json + adapter_model.safetensors)`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const refuse = (field: string, expected: string): never => { throw new Error(`${file}: ${field}: ${JSON.stringify(raw[field])}, expected ${expected}`); };
  if (raw.peft_type !== 'LORA') refuse('peft_type', '"LORA"');
  // Features of peft's LoRA we do not implement: refused by name rather than silently ignored.
  if (raw.use_dora === true) refuse('use_dora', 'false (DoRA is not supported)');
  if (raw.bias !== undefined && raw.bias !== 'none') refuse('bias', '"none" (trained biases are not supported)');
  if (raw.fan_in_fan_out === true) refuse('fan_in_fan_out', 'false (Llama stores weights as [out, in])');
  if (raw.modules_to_save != null && !(Array.isArray(raw.modules_to_save) && raw.modules_to_save.length === 0)) refuse('modules_to_save', 'null (fully trained modules are not supported)');
  if (raw.layers_to_transform != null) refuse('layers_to_transform', 'null (every layer)');
  if (raw.lora_bias === true) refuse('lora_bias', 'false (a bias on lora_B is not supported)');
  for (const field of ['exclude_modules', 'layer_replication', 'target_parameters', 'trainable_token_indices']) {
    if (raw[field] != null) refuse(field, 'null (not supported)');
  }
  for (const field of ['rank_pattern', 'alpha_pattern']) {
    if (raw[field] != null && Object.keys(raw[field] as object).length > 0) refuse(field, '{} (one rank and alpha for all modules)');
  }
  const targets = raw.target_modules;
  if (!(typeof targets === 'string' || (Array.isArray(targets) && targets.every((t) => typeof t === 'string')))) refuse('target_modules', 'a list of module names or a regular expression');
  const config: LoraConfig = {
    rank: raw.r as number, alpha: raw.lora_alpha as number, dropout: (raw.lora_dropout as number | undefined) ?? 0,
    targetModules: targets as string[] | string, rslora: raw.use_rslora === true,
  };
  checkLoraConfig(config, file);
  return { ...config, baseModel: typeof raw.base_model_name_or_path === 'string' ? raw.base_model_name_or_path : null };
}

/** Attach the adapter in `dir` (ours or peft's) to `model`; errors name the file and the tensor or field. */
export function loadAdapter(model: LlamaModel, dir: string): LoraAdapter {
  const config = readAdapterConfig(dir);
  const file = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(file)) throw new Error(`${dir}: no ${ADAPTER_WEIGHTS}, expected the adapter's weights beside ${ADAPTER_CONFIG}`);
  const tensors = new Map<string, tf.Tensor>();
  for (const [name, t] of readSafetensors(file).tensors) {
    // peft writes "…lora_A.weight"; some versions keep the adapter's name ("…lora_A.default.weight").
    if (!name.startsWith(PREFIX)) throw new Error(`${file}: ${name}: expected names starting with ${PREFIX} (peft's layout)`);
    tensors.set(name.slice(PREFIX.length).replace(/\.(lora_[AB])\.default\.weight$/, '.$1.weight'), tf.tensor(t.values, t.shape));
  }
  try {
    return LoraAdapter.load(model, config, tensors, { config: join(dir, ADAPTER_CONFIG), weights: file });
  } finally {
    tf.dispose([...tensors.values()]);
  }
}

/**
 * What the commands load as "a model": a model directory, with the adapter in `adapterDir` attached when
 * given — or an adapter directory alone (a LoRA run's final/), whose base comes from base_model_name_or_path.
 * The tokenizer is the adapter directory's when it has one, else the base's.
 */
export function loadModelWithAdapter(dir: string, adapterDir?: string): { model: LlamaModel; tokenizer: Tokenizer | null } {
  if (isAdapterDir(dir)) {
    if (adapterDir) throw new Error(`--adapter: ${dir} is itself an adapter; give its base as --model`);
    const { baseModel } = readAdapterConfig(dir);
    if (!baseModel) throw new Error(`${join(dir, ADAPTER_CONFIG)}: base_model_name_or_path: null, expected the base model's directory (or pass --model <base> --adapter ${dir})`);
    return loadModelWithAdapter(baseModel, dir);
  }
  const { model, tokenizer } = loadModelDir(dir);
  if (!adapterDir) return { model, tokenizer };
  try {
    loadAdapter(model, adapterDir);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, tokenizer: existsSync(join(adapterDir, 'tokenizer.json')) ? loadTokenizer(adapterDir) : tokenizer };
}
