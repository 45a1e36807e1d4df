// `tinyllm generate`: continue a prompt with a model, printing the text as the tokens are sampled.
import { checkSamplingOptions, type OptionNames, SAMPLING_DEFAULTS } from '../infer/sampling-options.js';
import { intFlag, numberFlag, requiredFlag, stringFlag } from './args.js';
import { BACKEND_OPTION, type Command } from './command.js';

const D = SAMPLING_DEFAULTS;

/** The command-line name of each sampling option, for error messages. */
const FLAG_NAMES: OptionNames = {
  temperature: '--temperature', topK: '--top-k', topP: '--top-p', repetitionPenalty: '--repetition-penalty',
  maxNewTokens: '--max-tokens', seed: '--seed',
};

export const generateCommand: Command = {
  summary: 'continue a prompt with a model, streaming the text as it is sampled',
  options: [
    { name: 'model', value: '<dir>', required: true, help: 'model directory (with its tokenizer)' },
    { name: 'prompt', value: '<text>', required: true, help: 'the text to continue (quote it)' },
    { name: 'temperature', value: '<t>', default: D.temperature, help: 'softmax temperature; 0 is greedy (always the most likely token)' },
    { name: 'top-k', value: '<k>', default: D.topK, help: 'sample among the k most likely tokens; 0: all' },
    { name: 'top-p', value: '<p>', default: D.topP, help: 'sample among the fewest most likely tokens whose probability sums to p; 1: all' },
    { name: 'repetition-penalty', value: '<r>', default: D.repetitionPenalty, help: 'divide positive logits of tokens already seen by r, multiply negative ones; 1: off' },
    { name: 'max-tokens', value: '<n>', default: D.maxNewTokens, help: "most new tokens (fewer if the prompt leaves less room in the model's maxSeq)" },
    { name: 'seed', value: '<n>', default: D.seed, help: 'random seed: the same seed gives the same text' },
    BACKEND_OPTION,
    { name: 'json', help: 'print one JSON object {"text", "ids", "finish_reason"} at the end instead of streaming' },
  ],
  notes: () => [
    "Sampling applies the repetition penalty, then temperature, top-k and top-p (Hugging Face's order).",
    'Generation stops at an eos id of the model\'s generation_config.json (else <|endoftext|> or <|im_end|>),',
    'finish_reason "stop" (the stop id is the last of "ids"), or after --max-tokens, finish_reason "length".',
  ],
  async run(args) {
    // Every option is checked before TensorFlow.js loads, so that a typo fails at once.
    const dir = requiredFlag(args, 'model');
    const prompt = requiredFlag(args, 'prompt');
    const sampling = {
      temperature: numberFlag(args, 'temperature', D.temperature),
      topK: intFlag(args, 'top-k', D.topK)!,
      topP: numberFlag(args, 'top-p', D.topP),
      repetitionPenalty: numberFlag(args, 'repetition-penalty', D.repetitionPenalty),
      seed: intFlag(args, 'seed', D.seed)!,
    };
    const maxTokens = intFlag(args, 'max-tokens', D.maxNewTokens)!;
    checkSamplingOptions({ ...sampling, maxNewTokens: maxTokens }, FLAG_NAMES);
    if (maxTokens < 1) throw new Error(`--max-tokens: ${maxTokens}, expected an integer >= 1`);
    const json = args.flags.has('json');
    const backend = stringFlag(args, 'backend', 'auto')!;

    const { initBackend, parseBackendName } = await import('../backend/init.js');
    const { loadModelDir, readEosIds } = await import('../io/model-dir.js');
    const { defaultStopIds, generate } = await import('../infer/sampling.js');
    const { TextStream } = await import('../tokenizer/text-stream.js');
    await initBackend(parseBackendName(backend), { quiet: true });
    const { model, tokenizer } = loadModelDir(dir);
    try {
      if (!tokenizer) throw new Error(`${dir}: no tokenizer.json, expected a model directory with its tokenizer to encode --prompt`);
      const { maxSeq, vocabSize } = model.config;
      // Where generation stops: the eos ids of generation_config.json, else the tokenizer's <|endoftext|> and <|im_end|>.
      const stopIds = readEosIds(dir) ?? defaultStopIds(tokenizer);
      const outside = stopIds.find((id) => id >= vocabSize);
      if (outside !== undefined) throw new Error(`${dir}/generation_config.json: eos_token_id ${outside} is outside the vocabulary, expected < ${vocabSize}`);
      const ids = tokenizer.encode(prompt);
      if (ids.length === 0) throw new Error('--prompt: empty, expected some text to continue');
      if (ids.length >= maxSeq) throw new Error(`--prompt: ${ids.length} tokens leave no room in the model's maxSeq ${maxSeq}, expected fewer than ${maxSeq} tokens`);
      const maxNewTokens = Math.min(maxTokens, maxSeq - ids.length);
      if (maxNewTokens < maxTokens) console.error(`tinyllm: --max-tokens ${maxTokens} lowered to ${maxNewTokens}: the prompt's ${ids.length} tokens and the new ones must fit maxSeq ${maxSeq}`);

      const stream = new TextStream(tokenizer);
      const write = (text: string) => { if (text) process.stdout.write(text); };
      const out = generate(model, ids, { ...sampling, maxNewTokens, stopIds, onToken: json ? undefined : (id) => write(stream.push(id)) });
      const finishReason = out.length > 0 && stopIds.includes(out[out.length - 1]!) ? 'stop' : 'length';
      if (json) {
        console.log(JSON.stringify({ text: stream.push(out) + stream.end(), ids: out, finish_reason: finishReason }));
      } else {
        write(`${stream.end()}\n`);
      }
    } finally {
      model.dispose();
    }
  },
};
