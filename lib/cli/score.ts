// `tinyllm score`: the log-probability the model gives each token of a text — the learner's way to
// look inside a model (which tokens surprise it?) and a quick perplexity.
import * as tf from '@tensorflow/tfjs';
import { initBackend, parseBackendName } from '../backend/init.js';
import { loadModelDir } from '../io/model-dir.js';
import type { LlamaModel } from '../model/model.js';
import { listFlag, requiredFlag, stringFlag } from './args.js';
import type { Command } from './command.js';
import { parseIds } from './tokenizer.js';

/** log p(ids[t] | ids[<t]) for t ≥ 1; the first token has no prediction (null). */
export function scoreIds(model: LlamaModel, ids: number[]): (number | null)[] {
  if (ids.length > model.config.maxSeq) throw new Error(`score: ${ids.length} tokens exceed the model's maxSeq ${model.config.maxSeq}`);
  const logProbs = tf.tidy(() => {
    const { logits } = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'));
    const lp = tf.logSoftmax(logits.squeeze([0]) as tf.Tensor2D, -1); // [T, V]
    const targets = tf.tensor1d(ids.slice(1), 'int32');
    // Row t predicts token t + 1.
    return tf.sum(tf.mul(lp.slice([0, 0], [ids.length - 1, -1]), tf.oneHot(targets, model.config.vocabSize)), -1).dataSync();
  });
  return [null, ...Array.from(logProbs)];
}

export const score: Command = {
  summary: "per-token log-probabilities of a text under a model, and its perplexity",
  usage: 'tinyllm score --model <dir> (--text <s> | --ids <1,2,3>) [--json] [--backend auto|cpu|wasm|cuda]',
  flags: ['model', 'text', 'ids', 'json', 'backend'],
  async run(args) {
    await initBackend(parseBackendName(stringFlag(args, 'backend', 'auto')!), { quiet: true });
    const dir = requiredFlag(args, 'model');
    const { model, tokenizer } = loadModelDir(dir);
    const text = stringFlag(args, 'text');
    const idsFlag = stringFlag(args, 'ids');
    if ((text === undefined) === (idsFlag === undefined)) throw new Error('--text or --ids: give exactly one');
    if (text !== undefined && !tokenizer) throw new Error(`${dir}: no tokenizer.json, needed for --text; give --ids instead`);
    const ids = text !== undefined ? tokenizer!.encode(text) : parseIds(idsFlag!, model.config.vocabSize);
    if (ids.length < 2) throw new Error(`--${text !== undefined ? 'text' : 'ids'}: ${ids.length} token(s), expected at least 2 to score`);
    const logprobs = scoreIds(model, ids);
    if (args.flags.has('json')) {
      if (listFlag(args, 'json').length > 0) throw new Error('--json: takes no value');
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
