// Model shapes: the presets (tiny-llm-zh's sizes, minimind's for comparison, `nano` for notebooks and
// CI) and the parameter count each implies.

/** Mixture-of-experts settings for the MLP of every block (minimind / DeepSeek-MoE style). */
export interface MoeConfig {
  /** Routed experts E; each token goes to topK of them. */
  experts: number;
  topK: number;
  /** Experts every token always goes through, added to the routed output. */
  sharedExperts: number;
  /** Weight of the load-balancing auxiliary loss. */
  auxLossAlpha: number;
  /** Renormalize the top-k gate probabilities to sum to 1. */
  normTopK: boolean;
}

/** Everything that fixes a model's shape. */
export interface ModelConfig {
  vocabSize: number;
  /** D: model width. */
  hidden: number;
  /** F: SwiGLU inner width. */
  ffn: number;
  layers: number;
  /** H: query heads; head width Dh = hidden / heads. */
  heads: number;
  /** Key/value heads (grouped-query attention when < heads; must divide heads). */
  kvHeads: number;
  /** Longest sequence (RoPE tables are built for it). */
  maxSeq: number;
  ropeTheta: number;
  normEps: number;
  /** Share the embedding matrix with the LM head (minimind does; our presets do not). */
  tieEmbeddings: boolean;
  moe: MoeConfig | null;
}

/** Vocabulary size of the default tokenizer (datasets/tokenizer), the presets' default. */
export const DEFAULT_VOCAB_SIZE = 6400;

type Shape = Pick<ModelConfig, 'hidden' | 'ffn' | 'layers' | 'heads' | 'kvHeads' | 'maxSeq'> & Partial<ModelConfig>;

/** Presets by name: tiny-llm-zh's table (FFN as in its code), minimind's 26M/108M, and nano. */
export const PRESETS: Record<string, Shape> = {
  nano: { hidden: 128, ffn: 352, layers: 4, heads: 4, kvHeads: 2, maxSeq: 256 },
  '16m': { hidden: 120, ffn: 384, layers: 6, heads: 6, kvHeads: 6, maxSeq: 512 },
  '42m': { hidden: 288, ffn: 768, layers: 6, heads: 6, kvHeads: 6, maxSeq: 512 },
  '92m': { hidden: 512, ffn: 1408, layers: 8, heads: 8, kvHeads: 8, maxSeq: 1024 },
  '210m': { hidden: 768, ffn: 2048, layers: 16, heads: 12, kvHeads: 12, maxSeq: 1024 },
  '440m': { hidden: 1024, ffn: 2816, layers: 24, heads: 16, kvHeads: 16, maxSeq: 1024 },
  '1.5b': { hidden: 2048, ffn: 5504, layers: 24, heads: 16, kvHeads: 16, maxSeq: 1024 },
  'minimind-26m': { hidden: 512, ffn: 1408, layers: 8, heads: 16, kvHeads: 8, maxSeq: 512, tieEmbeddings: true },
  'minimind-108m': { hidden: 768, ffn: 2048, layers: 16, heads: 16, kvHeads: 8, maxSeq: 512, tieEmbeddings: true },
  'minimind-moe': {
    hidden: 512, ffn: 1408, layers: 8, heads: 16, kvHeads: 8, maxSeq: 512, tieEmbeddings: true,
    moe: { experts: 4, topK: 2, sharedExperts: 1, auxLossAlpha: 0.1, normTopK: true },
  },
};

/** A preset's full config; `overrides` set anything else (vocabulary size, sequence length, …). */
export function presetConfig(name: string, overrides: Partial<ModelConfig> = {}): ModelConfig {
  const shape = PRESETS[name];
  if (!shape) throw new Error(`--preset: unknown preset '${name}', expected one of ${Object.keys(PRESETS).join(', ')}`);
  return checkConfig({
    vocabSize: DEFAULT_VOCAB_SIZE, ropeTheta: 10000, normEps: 1e-5, tieEmbeddings: false, moe: null,
    ...shape, ...overrides,
  });
}

/** Validate a config, naming the field that is wrong. */
export function checkConfig(config: ModelConfig, source = 'config'): ModelConfig {
  const positive = ['vocabSize', 'hidden', 'ffn', 'layers', 'heads', 'kvHeads', 'maxSeq'] as const;
  for (const key of positive) {
    if (!Number.isInteger(config[key]) || config[key] <= 0) throw new Error(`${source}: ${key}: ${config[key]}, expected a positive integer`);
  }
  if (config.hidden % config.heads !== 0) throw new Error(`${source}: hidden ${config.hidden} is not divisible by heads ${config.heads}`);
  if ((config.hidden / config.heads) % 2 !== 0) throw new Error(`${source}: head width ${config.hidden / config.heads} is odd, expected even (RoPE rotates pairs)`);
  if (config.heads % config.kvHeads !== 0) throw new Error(`${source}: heads ${config.heads} is not divisible by kvHeads ${config.kvHeads}`);
  if (config.moe && (config.moe.topK < 1 || config.moe.topK > config.moe.experts)) {
    throw new Error(`${source}: moe.topK ${config.moe.topK}, expected 1..${config.moe.experts}`);
  }
  return config;
}

/** Head width Dh. */
export function headDim(config: ModelConfig): number {
  return config.hidden / config.heads;
}

/** Parameter counts, split as the notebooks show them. */
export interface ParameterCount {
  /** Embedding matrix plus the LM head when untied. */
  embedding: number;
  /** Everything else: attention, MLP (or experts and router), norms. */
  nonEmbedding: number;
  total: number;
}

/** Count parameters from the shapes alone (it must agree with a live model: a test checks). */
export function countParameters(config: ModelConfig): ParameterCount {
  const { vocabSize: V, hidden: D, ffn: F, layers: L, heads: H, kvHeads: K } = config;
  const dh = headDim(config);
  const attention = D * H * dh + 2 * D * K * dh + H * dh * D;
  const swiglu = 3 * D * F;
  const mlp = config.moe ? (config.moe.experts + config.moe.sharedExperts) * swiglu + config.moe.experts * D : swiglu;
  const nonEmbedding = L * (attention + mlp + 2 * D) + D;
  const embedding = V * D * (config.tieEmbeddings ? 1 : 2);
  return { embedding, nonEmbedding, total: embedding + nonEmbedding };
}

/**
 * Training FLOPs per token at sequence length T, the model-FLOPs count MFU divides by: 6 per weight a
 * token is multiplied by (forward 2, backward 4) — every projection, the experts it is routed to, and
 * the LM head (V·D, tied or not: the product is done either way; the embedding is a lookup) — plus
 * attention's 12·L·T·D (scores and weighted values, forward and backward, causal counted in full as
 * nanoGPT and ../shared/reference/torch_throughput.py count it).
 */
export function trainingFlopsPerToken(config: ModelConfig, T: number): number {
  const { vocabSize: V, hidden: D, ffn: F, layers: L } = config;
  const { nonEmbedding } = countParameters(config);
  const idleExperts = config.moe ? (config.moe.experts - config.moe.topK) * 3 * D * F * L : 0;
  return 6 * (nonEmbedding - idleExperts + V * D) + 12 * L * T * D;
}
