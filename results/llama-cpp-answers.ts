// The exported GGUF in stock llama.cpp, against our own decoding of the same quantized model: llama.cpp
// (node-llama-cpp, installed on demand as the tests do) answers the first --n held-out SFT questions
// greedily, as `tinyllm eval --task gen` asked them (the chat template, at most 128 new tokens, stop at
// <|im_end|>); we count the answers equal to ours (--predictions: that eval's gen-predictions file, from
// the model the GGUF was exported from, quantized the same way) and print a few side by side.
//   npx tsx results/llama-cpp-answers.ts --gguf dpo-q8_0.gguf --predictions results/92m/eval/dpo-q8_0/gen-predictions.jsonl.gz [--n 20]
import { intFlag, parseArgs, stringFlag } from '../lib/cli/args.js';
import { readQaItems } from '../lib/eval/generation.js';
import { readGenPredictions } from '../lib/report/recorded-run.js';
import { applyChatTemplate } from '../lib/tokenizer/chat.js';
import { IM_END } from '../lib/tokenizer/special.js';
import { loadTokenizer } from '../lib/tokenizer/files.js';
import { getLlamaCpp, loadLlamaCpp } from '../test/llama-cpp.js';

const args = parseArgs(process.argv.slice(2));
const gguf = stringFlag(args, 'gguf')!, predictionsFile = stringFlag(args, 'predictions')!;
if (!gguf || !predictionsFile) throw new Error('usage: npx tsx results/llama-cpp-answers.ts --gguf <file> --predictions <gen-predictions.jsonl[.gz]> [--n 20]');
const n = intFlag(args, 'n', 20, 1)!;
const tokenizer = loadTokenizer('datasets/tokenizer');
const imEnd = tokenizer.specialId(IM_END);
const ours = readGenPredictions(predictionsFile).slice(0, n);
const items = (await readQaItems('datasets/sft/val.jsonl.gz')).items;

const { module } = await loadLlamaCpp();
const llama = await getLlamaCpp(module, 2);
const model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
const context = await model.createContext({ contextSize: 1024, threads: 2, flashAttention: false });
let same = 0;
const rows: string[] = [];
for (const prediction of ours) {
  const item = items.find((i) => i.line === prediction.line)!;
  const prompt = applyChatTemplate(tokenizer, item.prompt, { addGenerationPrompt: true }).ids;
  const sequence = context.getSequence();
  const ids: number[] = [];
  for await (const id of sequence.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
    if (id === imEnd || ids.length === 128) break;
    ids.push(id);
  }
  sequence.dispose();
  const theirs = tokenizer.decode(ids, { skipSpecial: true }).trim();
  if (theirs === prediction.pred) same++;
  if (rows.length < 5) rows.push(`| ${item.prompt.at(-1)!.content} | ${prediction.pred.replace(/\n/g, ' ')} | ${theirs === prediction.pred ? '(the same)' : theirs.replace(/\n/g, ' ')} |`);
}
await context.dispose();
await model.dispose();
await llama.dispose();
console.log(`${gguf}: llama.cpp answered ${ours.length} held-out questions; ${same} of ${ours.length} answers equal to ours, character for character\n`);
console.log('| question | ours | llama.cpp |\n|---|---|---|');
console.log(rows.join('\n'));
