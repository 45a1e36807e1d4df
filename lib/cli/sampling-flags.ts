// The sampling flags `tinyllm generate` and `tinyllm chat` share: their --help lines (defaults from
// lib/infer/sampling-options.ts) and reading them, checked before TensorFlow.js loads.
import { checkSamplingOptions, type OptionNames, SAMPLING_DEFAULTS, type SampleOptions } from '../infer/sampling-options.js';
import { intFlag, numberFlag, type Args } from './args.js';
import type { OptionSpec } from './command.js';

const D = SAMPLING_DEFAULTS;

/** The command-line name of each sampling option, for error messages. */
const FLAG_NAMES: OptionNames = {
  temperature: '--temperature', topK: '--top-k', topP: '--top-p', repetitionPenalty: '--repetition-penalty', minP: '--min-p',
  presencePenalty: '--presence-penalty', frequencyPenalty: '--frequency-penalty', maxNewTokens: '--max-tokens', seed: '--seed',
};

/** The sampling options as --help lists them. */
export const SAMPLING_OPTIONS: OptionSpec[] = [
  { name: 'temperature', value: '<t>', default: D.temperature, help: 'softmax temperature; 0 is greedy (always the most likely token)' },
  { name: 'top-k', value: '<k>', default: D.topK, help: 'sample among the k most likely tokens; 0: all' },
  { name: 'top-p', value: '<p>', default: D.topP, help: 'sample among the fewest most likely tokens whose probability sums to p; 1: all' },
  { name: 'repetition-penalty', value: '<r>', default: D.repetitionPenalty, help: 'divide positive logits of tokens already seen by r, multiply negative ones; 1: off' },
  { name: 'min-p', value: '<p>', default: D.minP, help: 'sample only tokens at least p times as likely as the most likely one; 0: off' },
  { name: 'presence-penalty', value: '<a>', default: D.presencePenalty, help: "subtract a from the logits of tokens already generated (OpenAI's); 0: off" },
  { name: 'frequency-penalty', value: '<a>', default: D.frequencyPenalty, help: "subtract a per time a token was generated (OpenAI's); 0: off" },
  { name: 'max-tokens', value: '<n>', default: D.maxNewTokens, help: "most new tokens (fewer if the prompt leaves less room in the model's maxSeq)" },
  { name: 'seed', value: '<n>', default: D.seed, help: 'random seed: the same seed gives the same text' },
];

/** The sampling flags, checked: how to pick tokens, how many at most, and the seed. */
export function samplingFlags(args: Args): { sampling: Required<SampleOptions>; maxTokens: number; seed: number } {
  const sampling = {
    temperature: numberFlag(args, 'temperature', D.temperature),
    topK: intFlag(args, 'top-k', D.topK)!,
    topP: numberFlag(args, 'top-p', D.topP),
    repetitionPenalty: numberFlag(args, 'repetition-penalty', D.repetitionPenalty),
    minP: numberFlag(args, 'min-p', D.minP),
    presencePenalty: numberFlag(args, 'presence-penalty', D.presencePenalty),
    frequencyPenalty: numberFlag(args, 'frequency-penalty', D.frequencyPenalty),
  };
  const maxTokens = intFlag(args, 'max-tokens', D.maxNewTokens)!;
  const seed = intFlag(args, 'seed', D.seed)!;
  checkSamplingOptions({ ...sampling, maxNewTokens: maxTokens, seed }, FLAG_NAMES);
  if (maxTokens < 1) throw new Error(`--max-tokens: ${maxTokens}, expected an integer >= 1`);
  return { sampling, maxTokens, seed };
}
