// What a LoRA adapter is — rank, alpha, dropout, which projections — with its defaults and checks, apart
// from the layers (lora.ts) so that the command line can show and check them without loading TensorFlow.js.

/** The projections LoRA can adapt, by their short names, and the module names peft's target_modules use. */
export const LORA_TARGETS = { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj', gate: 'gate_proj', up: 'up_proj', down: 'down_proj' } as const;
export type LoraTarget = keyof typeof LORA_TARGETS;

/** An adapter's shape. */
export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Dropout on the adapter's input while training (peft's lora_dropout). */
  dropout: number;
  /**
   * What to adapt, as peft's target_modules: a list of module names (a projection is adapted when its
   * name ends with one, e.g. "q_proj"), or one regular expression its whole name must match.
   */
  targetModules: string[] | string;
  /** rsLoRA: scale by α/√r instead of α/r (peft's use_rslora). */
  rslora?: boolean;
}

/** The command line's defaults: rank 8, alpha 16 (twice the rank), no dropout, every projection of the layers. */
export const LORA_DEFAULTS = { rank: 8, alphaPerRank: 2, dropout: 0, targets: Object.keys(LORA_TARGETS) as LoraTarget[] };

/** Check a config, naming the field (and `source`, a file or the command line) that is wrong. */
export function checkLoraConfig(config: LoraConfig, source: string): LoraConfig {
  if (!Number.isInteger(config.rank) || config.rank <= 0) throw new Error(`${source}: r: ${config.rank}, expected an integer rank > 0`);
  if (!(Number.isFinite(config.alpha) && config.alpha > 0)) throw new Error(`${source}: lora_alpha: ${config.alpha}, expected a number > 0`);
  if (!(config.dropout >= 0 && config.dropout < 1)) throw new Error(`${source}: lora_dropout: ${config.dropout}, expected a number in [0, 1)`);
  const t = config.targetModules;
  if (typeof t === 'string' ? t === '' : !Array.isArray(t) || t.length === 0) throw new Error(`${source}: target_modules: ${JSON.stringify(t)}, expected a list of module names such as ["q_proj", "v_proj"]`);
  return config;
}

/** Whether the config adapts the module `name` (peft's rule: a suffix after a dot, or a full regex match). */
export function isTargeted(config: LoraConfig, name: string): boolean {
  const t = config.targetModules;
  if (typeof t === 'string') return new RegExp(`^(?:${t})$`).test(name);
  return t.some((suffix) => name === suffix || name.endsWith(`.${suffix}`));
}

/** The factor the low-rank product is scaled by. */
export function loraScale(config: LoraConfig): number {
  return config.rslora ? config.alpha / Math.sqrt(config.rank) : config.alpha / config.rank;
}
