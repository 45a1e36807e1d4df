// The options of sampling and generation, their recommended values and their checks — apart from
// sampling.ts so that the command line can show and check them without loading TensorFlow.js.

/** How to pick a token. An absent option is off (temperature absent: 1); SAMPLING_DEFAULTS are the recommended settings. */
export interface SampleOptions {
  /** 0 picks the most likely token (greedy); higher flattens the distribution. Default 1. */
  temperature?: number;
  /** Only the k most likely tokens can be picked (0 or absent: all). */
  topK?: number;
  /** Nucleus: only the fewest most likely tokens whose probability (after temperature and top-k) sums to ≥ p (1 or absent: all). */
  topP?: number;
  /** Hugging Face's repetition penalty on ids already seen: a positive logit is divided by it, a negative one multiplied (1 or absent: off). */
  repetitionPenalty?: number;
  /** Only tokens at least minP times as likely as the most likely one can be picked (0 or absent: off). */
  minP?: number;
  /** OpenAI's presence penalty: subtracted from the logit of every id generated so far (0 or absent: off). */
  presencePenalty?: number;
  /** OpenAI's frequency penalty: subtracted from an id's logit once per time it was generated (0 or absent: off). */
  frequencyPenalty?: number;
}

/** The recommended settings, and the defaults of `tinyllm generate` (its --help shows them from here). */
export const SAMPLING_DEFAULTS = {
  temperature: 0.8,
  topK: 40,
  topP: 1,
  repetitionPenalty: 1.1,
  minP: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
  maxNewTokens: 128,
  seed: 0,
} as const satisfies Required<SampleOptions> & { maxNewTokens: number; seed: number };

/** Options of generate(). */
export interface GenerateOptions extends SampleOptions {
  maxNewTokens: number;
  /** Stop after producing any of these ids (e.g. <|im_end|>); the stop id is included. */
  stopIds?: readonly number[];
  seed?: number;
  /** Called with each id as soon as it is sampled (the stop id included), for streaming output. */
  onToken?: (id: number) => void;
  /** Keep each step's logits (Sequence.lastLogits, for log-probabilities) even where the ids need none (greedy). */
  keepLogits?: boolean;
}

/** What to call each option in error messages, e.g. { topP: '--top-p' } for the command line. */
export type OptionNames = Partial<Record<keyof GenerateOptions, string>>;

/** Check sampling and generation options; throws one line naming the option and what it expects. */
export function checkSamplingOptions(options: Partial<GenerateOptions>, names: OptionNames = {}): void {
  const fail = (key: keyof GenerateOptions, expected: string): never => {
    const value = options[key];
    throw new Error(`${names[key] ?? key}: ${typeof value === 'number' ? String(value) : JSON.stringify(value)}, expected ${expected}`);
  };
  const { temperature, topK, topP, repetitionPenalty, minP, presencePenalty, frequencyPenalty, maxNewTokens, seed, stopIds } = options;
  const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const isInt = (v: unknown): v is number => Number.isInteger(v);
  if (temperature !== undefined && !(isNumber(temperature) && temperature >= 0)) fail('temperature', 'a number >= 0 (0: greedy)');
  if (topK !== undefined && !(isInt(topK) && topK >= 0)) fail('topK', 'an integer >= 0 (0: off)');
  if (topP !== undefined && !(isNumber(topP) && topP > 0 && topP <= 1)) fail('topP', 'a number in (0, 1] (1: off)');
  if (repetitionPenalty !== undefined && !(isNumber(repetitionPenalty) && repetitionPenalty > 0)) fail('repetitionPenalty', 'a number > 0 (1: off)');
  if (minP !== undefined && !(isNumber(minP) && minP >= 0 && minP <= 1)) fail('minP', 'a number in [0, 1] (0: off)');
  if (presencePenalty !== undefined && !(isNumber(presencePenalty) && Math.abs(presencePenalty) <= 2)) fail('presencePenalty', 'a number in [-2, 2] (0: off)');
  if (frequencyPenalty !== undefined && !(isNumber(frequencyPenalty) && Math.abs(frequencyPenalty) <= 2)) fail('frequencyPenalty', 'a number in [-2, 2] (0: off)');
  if (maxNewTokens !== undefined && !(isInt(maxNewTokens) && maxNewTokens >= 0)) fail('maxNewTokens', 'an integer >= 0');
  if (seed !== undefined && !(isInt(seed) && seed >= 0 && seed < 2 ** 32)) fail('seed', 'an integer in [0, 2^32)');
  if (stopIds !== undefined && !(Array.isArray(stopIds) && stopIds.every((id) => isInt(id) && id >= 0))) fail('stopIds', 'a list of token ids (integers >= 0)');
}
