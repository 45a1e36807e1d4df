// Tokenizer files in Hugging Face's format: tokenizer.json (the model, pre-tokenizer, special tokens)
// and tokenizer_config.json (chat template, special-token roles), so that
// transformers.AutoTokenizer.from_pretrained(dir) loads what we save, and we load byte-level BPE files
// made by others (GPT-2, Qwen2, …).
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { writeFileAtomic } from '../io/atomic.js';
import { BpeModel } from './bpe.js';
import { CHAT_TEMPLATE_JINJA } from './chat.js';
import { asObject, preTokenizerFromJson } from './pretokenize.js';
import { ENDOFTEXT, IM_END, type SpecialToken } from './special.js';
import { Tokenizer } from './tokenizer.js';

/** Load a tokenizer from a directory holding tokenizer.json, or from a tokenizer.json(.gz) file. */
export function loadTokenizer(path: string): Tokenizer {
  if (!existsSync(path)) throw new Error(`${path}: no such file or directory, expected a tokenizer directory or tokenizer.json`);
  const file = statSync(path).isDirectory() ? join(path, 'tokenizer.json') : path;
  if (!existsSync(file)) throw new Error(`${path}: no tokenizer.json in this directory, expected a tokenizer directory`);
  let json: unknown;
  try {
    const bytes = readFileSync(file);
    json = JSON.parse((file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  try {
    return tokenizerFromJson(json);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

/** Build a tokenizer from a parsed tokenizer.json; errors name the field. */
export function tokenizerFromJson(json: unknown): Tokenizer {
  const root = asObject(json, 'tokenizer.json');
  const model = asObject(root.model, 'model');
  if (model.type !== 'BPE') throw new Error(`model.type: '${String(model.type)}' is not supported, expected 'BPE'`);
  if (model.byte_fallback) throw new Error('model.byte_fallback: true is not supported, expected a byte-level BPE');
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (model[key]) throw new Error(`model.${key}: '${String(model[key])}' is not supported, expected null`);
  }
  const vocab = asObject(model.vocab, 'model.vocab');
  const specials = readAddedTokens(root.added_tokens);
  const tokens: (string | null)[] = [];
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0) throw new Error(`model.vocab['${token}']: ${JSON.stringify(id)} is not an id, expected an integer >= 0`);
    tokens[id as number] = token;
  }
  for (const s of specials) tokens[s.id] ??= null; // ids of specials outside the vocab
  for (let id = 0; id < tokens.length; id++) tokens[id] ??= null; // fill holes
  if (!Array.isArray(model.merges)) throw new Error('model.merges: missing, expected an array');
  const merges = model.merges.map((m, i): [string, string] => {
    const pair = typeof m === 'string' ? splitMerge(m) : m;
    if (!Array.isArray(pair) || pair.length !== 2 || pair.some((p) => typeof p !== 'string')) {
      throw new Error(`model.merges[${i}]: ${JSON.stringify(m)}, expected "a b" or ["a", "b"]`);
    }
    return pair as [string, string];
  });
  return new Tokenizer({
    model: new BpeModel({ tokens, merges, ignoreMerges: model.ignore_merges === true }, 'model'),
    specials,
    preTokenizer: preTokenizerFromJson(root.pre_tokenizer, 'pre_tokenizer'),
    normalizer: normalizerFromJson(root.normalizer, 'normalizer'),
    json: { normalizer: root.normalizer ?? null, pre_tokenizer: root.pre_tokenizer },
  });
}

/** Save tokenizer.json and tokenizer_config.json into `dir` (created if missing), atomically. */
export function saveTokenizer(tokenizer: Tokenizer, dir: string, options: { modelMaxLength?: number } = {}): void {
  mkdirSync(dir, { recursive: true });
  const vocab: Record<string, number> = {};
  tokenizer.model.tokens.forEach((t, id) => {
    if (t !== null) vocab[t] = id;
  });
  const addedTokens = tokenizer.specials.map((s) => ({
    id: s.id, content: s.content, single_word: false, lstrip: s.lstrip ?? false, rstrip: s.rstrip ?? false, normalized: false, special: true,
  }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: tokenizer.json.normalizer,
    pre_tokenizer: tokenizer.json.pre_tokenizer,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: tokenizer.model.ignoreMerges, vocab, merges: tokenizer.model.merges,
    },
  };
  const has = (content: string) => tokenizer.specials.some((s) => s.content === content);
  const config = {
    add_bos_token: false,
    add_eos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...rest }) => [String(id), rest])),
    bos_token: null,
    eos_token: has(IM_END) ? IM_END : null,
    pad_token: has(ENDOFTEXT) ? ENDOFTEXT : null,
    unk_token: null,
    clean_up_tokenization_spaces: false,
    model_max_length: options.modelMaxLength ?? 32768,
    split_special_tokens: false,
    tokenizer_class: 'PreTrainedTokenizerFast',
    chat_template: CHAT_TEMPLATE_JINJA,
  };
  writeFileAtomic(join(dir, 'tokenizer.json'), `${JSON.stringify(tokenizerJson, null, 1)}\n`);
  writeFileAtomic(join(dir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

function readAddedTokens(value: unknown): SpecialToken[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error('added_tokens: expected an array');
  return value.map((entry, i) => {
    const t = asObject(entry, `added_tokens[${i}]`);
    if (!Number.isInteger(t.id) || (t.id as number) < 0) throw new Error(`added_tokens[${i}].id: ${JSON.stringify(t.id)}, expected an integer >= 0`);
    if (typeof t.content !== 'string' || t.content === '') throw new Error(`added_tokens[${i}].content: expected a non-empty string`);
    return { id: t.id as number, content: t.content, lstrip: t.lstrip === true, rstrip: t.rstrip === true };
  });
}

// Old files write merges as "a b"; a token never contains a space (byte-level shows it as 'Ġ').
function splitMerge(m: string): unknown {
  const parts = m.split(' ');
  return parts.length === 2 ? parts : m;
}

type Normalizer = ((text: string) => string) | null;

function normalizerFromJson(config: unknown, field: string): Normalizer {
  if (config === undefined || config === null) return null;
  const obj = asObject(config, field);
  switch (obj.type) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = obj.type;
      return (text) => text.normalize(form);
    }
    case 'Sequence': {
      if (!Array.isArray(obj.normalizers)) throw new Error(`${field}.normalizers: missing, expected an array`);
      const steps = obj.normalizers.map((n, i) => normalizerFromJson(n, `${field}.normalizers[${i}]`)).filter((s): s is (t: string) => string => s !== null);
      return (text) => steps.reduce((t, step) => step(t), text);
    }
    default:
      throw new Error(`${field}.type: '${String(obj.type)}' is not supported, expected NFC, NFD, NFKC, NFKD or Sequence`);
  }
}
