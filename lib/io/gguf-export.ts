// A model directory as a GGUF file that stock llama.cpp loads: the metadata and tokenizer keys that
// llama.cpp's convert_hf_to_gguf.py writes for a LlamaForCausalLM with our tokenizer, the tensors under
// llama.cpp's names with dims innermost first ({in, out} for a [out, in] weight, bytes unchanged), the
// query and key rows reordered for llama.cpp's RoPE, and each tensor's type chosen as the converter and
// llama-quantize choose it: norms F32, weights in the requested type, F16 where a row is not whole blocks.
import { basename, join, resolve } from 'node:path';
import { headDim, type ModelConfig } from '../model/config.js';
import { parameterShapes } from '../model/model.js';
import { CHAT_TEMPLATE_JINJA } from '../tokenizer/chat.js';
import { loadTokenizer } from '../tokenizer/files.js';
import { SPLIT_PATTERN } from '../tokenizer/pretokenize.js';
import { ENDOFTEXT, IM_END } from '../tokenizer/special.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { QUANT_FORMATS, quantize } from '../quant/types.js';
import { floatToHalf } from './float16.js';
import { gguf, type GgmlTypeName, type GgufTensor, type GgufValue, writeGguf } from './gguf.js';
import { readModelConfig, readQuantization } from './model-dir.js';
import { readSafetensors } from './safetensors.js';

/** The --type values: the storage type of the 2-D weights. */
export const GGUF_EXPORT_TYPES = ['f32', 'f16', 'q8_0', 'q4_0'] as const;
/** One of GGUF_EXPORT_TYPES. */
export type GgufExportType = (typeof GGUF_EXPORT_TYPES)[number];

/** general.file_type of each --type (llama.cpp's LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_Q4_0, MOSTLY_Q8_0). */
const FILE_TYPE: Record<GgufExportType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 };
/** llama.cpp's token types. */
const TOKEN_TYPE = { normal: 1, control: 3, unused: 5 } as const;

/** A --type value, or an error that lists the known ones. */
export function parseExportType(type: string): GgufExportType {
  if (!(GGUF_EXPORT_TYPES as readonly string[]).includes(type)) throw new Error(`--type: '${type}', expected one of ${GGUF_EXPORT_TYPES.join(', ')}`);
  return type as GgufExportType;
}

/** The GGUF name of a Hugging Face Llama parameter, or null for one llama.cpp has no name for. */
export function ggufTensorName(hfName: string): string | null {
  const fixed: Record<string, string> = {
    'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight', 'lm_head.weight': 'output.weight',
  };
  if (fixed[hfName]) return fixed[hfName]!;
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hfName);
  const block: Record<string, string> = {
    'input_layernorm.weight': 'attn_norm.weight', 'post_attention_layernorm.weight': 'ffn_norm.weight',
    'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight',
    'self_attn.v_proj.weight': 'attn_v.weight', 'self_attn.o_proj.weight': 'attn_output.weight',
    'mlp.gate_proj.weight': 'ffn_gate.weight', 'mlp.up_proj.weight': 'ffn_up.weight', 'mlp.down_proj.weight': 'ffn_down.weight',
  };
  return m && block[m[2]!] ? `blk.${m[1]}.${block[m[2]!]}` : null;
}

/**
 * Reorder the rows of a q_proj or k_proj weight [heads · Dh, cols] from Hugging Face's rotate-half RoPE
 * (channel j pairs with j + Dh/2) to llama.cpp's adjacent pairs (2j with 2j + 1): GGUF row h·Dh + 2j + s
 * is HF row h·Dh + s·Dh/2 + j — convert_hf_to_gguf.py's LlamaModel.permute.
 */
export function permuteRopeRows(values: Float32Array, heads: number, cols: number): Float32Array {
  const rows = values.length / cols;
  const dh = rows / heads;
  if (!Number.isInteger(dh) || dh % 2 !== 0) throw new Error(`permuteRopeRows: ${rows} rows are not ${heads} heads of an even width`);
  const out = new Float32Array(values.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < dh / 2; j++) {
      for (let s = 0; s < 2; s++) {
        const to = h * dh + 2 * j + s;
        const from = h * dh + s * (dh / 2) + j;
        out.set(values.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

/** Why a tensor has the type it has, for the export's report. */
export type TypeReason = 'norm' | 'requested' | 'rows not whole blocks';

/** The ggml type of a parameter of Hugging Face shape `shape` ([out, in] or [n]) in a --type export. */
export function ggufTensorType(shape: readonly number[], type: GgufExportType): { type: GgmlTypeName; reason: TypeReason } {
  if (shape.length <= 1) return { type: 'F32', reason: 'norm' };
  if (type === 'f32') return { type: 'F32', reason: 'requested' };
  if (type === 'f16') return { type: 'F16', reason: 'requested' };
  const format = QUANT_FORMATS[type];
  if (shape[shape.length - 1]! % format.blockSize !== 0) return { type: 'F16', reason: 'rows not whole blocks' };
  return { type: type === 'q8_0' ? 'Q8_0' : 'Q4_0', reason: 'requested' };
}

/** The bytes of float32 values stored as a ggml type (blocks along each row). */
export function ggmlBytes(values: Float32Array, type: GgmlTypeName): Uint8Array {
  switch (type) {
    case 'F32': {
      const out = new Uint8Array(values.length * 4);
      const view = new DataView(out.buffer);
      for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i]!, true);
      return out;
    }
    case 'F16': {
      const out = new Uint8Array(values.length * 2);
      const view = new DataView(out.buffer);
      for (let i = 0; i < values.length; i++) view.setUint16(2 * i, floatToHalf(values[i]!), true);
      return out;
    }
    case 'Q8_0': return quantize(values, QUANT_FORMATS.q8_0);
    case 'Q4_0': return quantize(values, QUANT_FORMATS.q4_0);
  }
}

/** Options of exportGguf. */
export interface GgufExportOptions {
  /** general.name (default: the model directory's name). */
  name?: string;
}

/** One tensor of an export: its names, dims (innermost first) and ggml type, and why that type. */
export interface ExportedTensor {
  name: string;
  hfName: string;
  dims: number[];
  type: GgmlTypeName;
  reason: TypeReason;
}

/** What exportGguf wrote. */
export interface GgufExportReport {
  file: string;
  bytes: number;
  tensors: ExportedTensor[];
}

/** Write a dense Llama model directory (config.json, model.safetensors, tokenizer files) as a GGUF file for llama.cpp. */
export function exportGguf(dir: string, out: string, type: GgufExportType, options: GgufExportOptions = {}): GgufExportReport {
  parseExportType(type);
  const config = readModelConfig(dir);
  const quantized = readQuantization(dir);
  // Our blocks are gguf's byte for byte, so nothing is lost by quantizing again from the float weights.
  if (quantized) throw new Error(`export: ${dir} is quantized (${quantized}); export the float model it was made from, with --type ${quantized} for the same blocks`);
  if (config.moe) throw new Error(`export: ${dir} is a mixture-of-experts model; GGUF export supports dense llama models only`);
  let tokenizer: Tokenizer;
  try {
    tokenizer = loadTokenizer(dir);
  } catch (err) {
    throw new Error(`export: ${(err as Error).message} (GGUF files carry the tokenizer)`);
  }
  checkTokenizer(tokenizer, config, dir);
  const weightsFile = join(dir, 'model.safetensors');
  const stored = readSafetensors(weightsFile).tensors;
  const tensors: GgufTensor[] = [];
  const report: ExportedTensor[] = [];
  for (const [hfName, shape] of ggufOrder(config)) {
    const t = stored.get(hfName);
    if (!t) throw new Error(`${weightsFile}: no tensor '${hfName}', expected every parameter of the config's model`);
    if (t.shape.join() !== shape.join()) throw new Error(`${weightsFile}: ${hfName}: shape [${t.shape}], expected [${shape}] from config.json`);
    const name = ggufTensorName(hfName)!;
    const { type: ggmlType, reason } = ggufTensorType(shape, type);
    const dims = [...shape].reverse();
    const heads = hfName.endsWith('q_proj.weight') ? config.heads : hfName.endsWith('k_proj.weight') ? config.kvHeads : 0;
    tensors.push({
      name, dims, type: ggmlType,
      // Made when the writer reaches it, so only one tensor's bytes exist at a time.
      bytes: () => ggmlBytes(heads ? permuteRopeRows(t.values, heads, shape[1]!) : t.values, ggmlType),
    });
    report.push({ name, hfName, dims, type: ggmlType, reason });
  }
  const bytes = writeGguf(out, ggufMetadata(config, tokenizer, type, options.name ?? basename(resolve(dir))), tensors);
  return { file: out, bytes, tensors: report };
}

/** The parameters to write, in llama.cpp's order (embeddings, blocks, final norm, head); no head when tied. */
function ggufOrder(config: ModelConfig): [string, number[]][] {
  const order = ['input_layernorm', 'q_proj', 'k_proj', 'v_proj', 'o_proj', 'post_attention_layernorm', 'gate_proj', 'up_proj', 'down_proj'];
  const rank = (name: string) => {
    if (name === 'model.embed_tokens.weight') return [-1, 0];
    const m = /^model\.layers\.(\d+)\.(?:self_attn\.|mlp\.)?([a-z_]+)\.weight$/.exec(name);
    return m ? [Number(m[1]), order.indexOf(m[2]!)] : [Infinity, name === 'model.norm.weight' ? 0 : 1];
  };
  return parameterShapes(config).sort(([a], [b]) => {
    const [ra, rb] = [rank(a), rank(b)];
    return ra[0]! - rb[0]! || ra[1]! - rb[1]!;
  });
}

/** The key-value pairs convert_hf_to_gguf.py writes for a LlamaForCausalLM with our tokenizer. */
function ggufMetadata(config: ModelConfig, tokenizer: Tokenizer, type: GgufExportType, name: string): [string, GgufValue][] {
  const dh = headDim(config);
  const special = new Set(tokenizer.specials.map((s) => s.id));
  const tokens: string[] = [];
  const tokenTypes: number[] = [];
  for (let id = 0; id < config.vocabSize; id++) {
    const s = tokenizer.specials.find((t) => t.id === id);
    const text = s?.content ?? tokenizer.model.tokens[id] ?? null;
    // Ids with no token (the embedding has more rows than the tokenizer has tokens) get the converter's filler.
    tokens.push(text ?? `[PAD${id}]`);
    tokenTypes.push(special.has(id) ? TOKEN_TYPE.control : text === null ? TOKEN_TYPE.unused : TOKEN_TYPE.normal);
  }
  const optionalId = (content: string): [string, GgufValue][] => (tokenizer.specials.some((s) => s.content === content) ? [[content === IM_END ? 'tokenizer.ggml.eos_token_id' : 'tokenizer.ggml.padding_token_id', gguf.u32(tokenizer.specialId(content))]] : []);
  return [
    ['general.architecture', gguf.str('llama')],
    ['general.type', gguf.str('model')],
    ['general.name', gguf.str(name)],
    ['llama.block_count', gguf.u32(config.layers)],
    ['llama.context_length', gguf.u32(config.maxSeq)],
    ['llama.embedding_length', gguf.u32(config.hidden)],
    ['llama.feed_forward_length', gguf.u32(config.ffn)],
    ['llama.attention.head_count', gguf.u32(config.heads)],
    ['llama.attention.head_count_kv', gguf.u32(config.kvHeads)],
    ['llama.rope.freq_base', gguf.f32(config.ropeTheta)],
    ['llama.attention.layer_norm_rms_epsilon', gguf.f32(config.normEps)],
    ['llama.attention.key_length', gguf.u32(dh)],
    ['llama.attention.value_length', gguf.u32(dh)],
    ['general.file_type', gguf.u32(FILE_TYPE[type])],
    ['llama.vocab_size', gguf.u32(config.vocabSize)],
    ['llama.rope.dimension_count', gguf.u32(dh)],
    ['general.quantization_version', gguf.u32(2)],
    ['tokenizer.ggml.add_space_prefix', gguf.bool(false)],
    ['tokenizer.ggml.model', gguf.str('gpt2')],
    // Our split regex is Qwen2's, character for character; llama.cpp knows pre-tokenizers by name only.
    ['tokenizer.ggml.pre', gguf.str('qwen2')],
    ['tokenizer.ggml.tokens', gguf.array('string', tokens)],
    ['tokenizer.ggml.token_type', gguf.array('i32', tokenTypes)],
    ['tokenizer.ggml.merges', gguf.array('string', tokenizer.model.merges.map(([a, b]) => `${a} ${b}`))],
    ...optionalId(IM_END),
    ...optionalId(ENDOFTEXT),
    ['tokenizer.ggml.add_bos_token', gguf.bool(false)],
    ['tokenizer.ggml.add_eos_token', gguf.bool(false)],
    ['tokenizer.chat_template', gguf.str(CHAT_TEMPLATE_JINJA)],
  ];
}

/** llama.cpp tokenizes as we do only for our kind of tokenizer: byte-level BPE, Qwen2's split, no normalizer. */
function checkTokenizer(tokenizer: Tokenizer, config: ModelConfig, dir: string): void {
  const where = join(dir, 'tokenizer.json');
  const pre = tokenizer.json.pre_tokenizer as { type?: string; pretokenizers?: Record<string, unknown>[] } | undefined;
  const [split, byteLevel] = pre?.type === 'Sequence' && pre.pretokenizers?.length === 2 ? pre.pretokenizers : [];
  const ours = split?.type === 'Split' && (split.pattern as { Regex?: string } | undefined)?.Regex === SPLIT_PATTERN && split.behavior === 'Isolated' && !split.invert
    && byteLevel?.type === 'ByteLevel' && byteLevel.use_regex === false && !byteLevel.add_prefix_space;
  if (!ours) throw new Error(`${where}: pre_tokenizer is not ours (Qwen2's split regex, then ByteLevel without its regex), which GGUF export requires: llama.cpp names pre-tokenizers and would split text differently`);
  if (tokenizer.json.normalizer !== null && tokenizer.json.normalizer !== undefined) throw new Error(`${where}: normalizer: ${JSON.stringify(tokenizer.json.normalizer)}, expected null for GGUF export (llama.cpp's BPE does not normalize)`);
  if (tokenizer.model.ignoreMerges) throw new Error(`${where}: model.ignore_merges: true, expected false for GGUF export (Qwen2 merges every piece)`);
  if (tokenizer.vocabSize > config.vocabSize) throw new Error(`${where}: ${tokenizer.vocabSize} token ids, more than config.json's vocab_size ${config.vocabSize}`);
  if (tokenizer.specials.some((s) => s.lstrip || s.rstrip)) throw new Error(`${where}: added_tokens: lstrip/rstrip special tokens are not supported by GGUF export, expected false`);
}
