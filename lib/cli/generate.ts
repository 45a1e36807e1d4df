// `tinyllm generate`: continue a prompt with a model, printing the text as the tokens are sampled.
import { optionValue, requiredFlag, stringFlag } from './args.js';
import { ADAPTER_OPTION, BACKEND_OPTION, type Command } from './command.js';
import { SAMPLING_OPTIONS, samplingFlags } from './sampling-flags.js';

export const generateCommand: Command = {
  summary: 'continue a prompt with a model, streaming the text as it is sampled',
  options: [
    { name: 'model', value: '<dir>', required: true, help: 'model directory (with its tokenizer)' },
    ADAPTER_OPTION,
    { name: 'prompt', value: '<text>', required: true, help: 'the text to continue (quote it)' },
    ...SAMPLING_OPTIONS,
    BACKEND_OPTION,
    { name: 'json', help: 'print one JSON object {"text", "ids", "finish_reason"} at the end instead of streaming' },
  ],
  notes: () => [
    "Sampling applies the repetition, presence and frequency penalties, then temperature, top-k, top-p and min-p (Hugging Face's order).",
    'Generation stops at an eos id of the model\'s generation_config.json (else <|endoftext|> or <|im_end|>),',
    'finish_reason "stop" (the stop id is the last of "ids"), or after --max-tokens, finish_reason "length".',
  ],
  async run(args) {
    // Every option is checked before TensorFlow.js loads, so that a typo fails at once.
    const dir = requiredFlag(args, 'model');
    const prompt = requiredFlag(args, 'prompt');
    const { sampling, maxTokens, seed } = samplingFlags(args);
    const json = args.flags.has('json');
    const backend = optionValue(args, BACKEND_OPTION)!;

    const { initBackend, parseBackendName } = await import('../backend/init.js');
    const { readEosIds } = await import('../io/model-dir.js');
    const { loadModelWithAdapter } = await import('../io/peft.js');
    const { defaultStopIds, generate } = await import('../infer/sampling.js');
    const { TextStream } = await import('../tokenizer/text-stream.js');
    await initBackend(parseBackendName(backend), { quiet: true });
    const { model, tokenizer } = loadModelWithAdapter(dir, stringFlag(args, 'adapter'));
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
      const out = generate(model, ids, { ...sampling, seed, maxNewTokens, stopIds, onToken: json ? undefined : (id) => write(stream.push(id)) });
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
