// `tinyllm score`: the log-probability the model gives each token of a text (lib/eval/logprobs.ts) as a
// table or JSON, and the perplexity.
import { optionValue, requiredFlag, stringFlag } from './args.js';
import { ADAPTER_OPTION, BACKEND_OPTION, type Command } from './command.js';
import { parseIds } from './tokenizer.js';

export const score: Command = {
  summary: "per-token log-probabilities of a text under a model, and its perplexity",
  options: [
    { name: 'model', value: '<dir>', required: true, help: 'a model directory (config.json, model.safetensors, tokenizer files)' },
    ADAPTER_OPTION,
    { name: 'text', value: '<s>', help: 'the text to score (or --ids)' },
    { name: 'ids', value: '<1,2,3>', help: 'token ids to score (or --text)' },
    { name: 'json', help: 'print {"ids", "logprobs"} instead of a table' },
    BACKEND_OPTION,
  ],
  async run(args) {
    const { initBackend, parseBackendName } = await import('../backend/init.js');
    const { loadModelWithAdapter } = await import('../io/peft.js');
    const { scoreIds } = await import('../eval/logprobs.js');
    await initBackend(parseBackendName(optionValue(args, BACKEND_OPTION)!), { quiet: true });
    const dir = requiredFlag(args, 'model');
    const { model, tokenizer } = loadModelWithAdapter(dir, stringFlag(args, 'adapter'));
    const text = stringFlag(args, 'text');
    const idsFlag = stringFlag(args, 'ids');
    if ((text === undefined) === (idsFlag === undefined)) throw new Error('--text or --ids: give exactly one');
    if (text !== undefined && !tokenizer) throw new Error(`${dir}: no tokenizer.json, needed for --text; give --ids instead`);
    const ids = text !== undefined ? tokenizer!.encode(text) : parseIds(idsFlag!, model.config.vocabSize);
    if (ids.length < 2) throw new Error(`--${text !== undefined ? 'text' : 'ids'}: ${ids.length} token(s), expected at least 2 to score`);
    const logprobs = scoreIds(model, ids);
    if (args.flags.has('json')) {
      console.log(JSON.stringify({ ids, logprobs }));
      return;
    }
    const scored = logprobs.slice(1) as number[];
    const total = scored.reduce((a, b) => a + b, 0);
    const show = (id: number) => JSON.stringify(tokenizer ? tokenizer.idToString(id) : String(id));
    console.log('   pos      id  logprob  token');
    ids.forEach((id, t) => console.log(`${String(t).padStart(6)}  ${String(id).padStart(6)}  ${t === 0 ? '      —' : logprobs[t]!.toFixed(3).padStart(7)}  ${show(id)}`));
    console.log(`total log-probability ${total.toFixed(3)} over ${scored.length} predicted tokens; perplexity ${Math.exp(-total / scored.length).toFixed(3)}`);
    model.dispose();
  },
};
