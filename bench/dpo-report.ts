// What DPO did to a model, on held-out data: the share of preference pairs whose chosen answer the model
// finds likelier than the rejected one (summed log-probabilities), the SFT validation loss (fluency on
// the chat data), and greedy answers to held-out questions — how many end with <|im_end|> and how many
// fall into repetition (a 4-gram of tokens three times or more). Run it on the starting model and the
// aligned one:
//   npx tsx bench/dpo-report.ts --model datasets/models/chat runs/dpo/final [--questions 100]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { initBackend } from '../lib/backend/init.js';
import { intFlag, listFlag, parseArgs } from '../lib/cli/args.js';
import { readConversation } from '../lib/data/conversations.js';
import { prepareDpo } from '../lib/data/preferences.js';
import { prepareSft, SftDataset, SftLoader } from '../lib/data/sft.js';
import { ChatSession } from '../lib/infer/chat.js';
import { loadModelWithAdapter } from '../lib/io/peft.js';
import { loadTokenizer } from '../lib/tokenizer/files.js';
import { referenceLogProbs } from '../lib/train/objectives/dpo.js';
import { evaluate } from '../lib/train/step.js';

const args = parseArgs(process.argv.slice(2));
const models = listFlag(args, 'model', true);
const questions = intFlag(args, 'questions', 100, 1)!;
await initBackend('auto', { quiet: true });
const tokenizer = loadTokenizer('datasets/tokenizer');
const work = mkdtempSync(join(tmpdir(), 'dpo-report-'));
await prepareDpo({ files: [], valFiles: ['datasets/dpo/val.jsonl.gz'], tokenizer, out: join(work, 'dpo'), seq: 512 });
const pairs = new SftDataset(join(work, 'dpo'), 'val', 'tinyllm-dpo-1');
await prepareSft({ files: [], valFiles: ['datasets/sft/val.jsonl.gz'], tokenizer, out: join(work, 'sft'), seq: 512 });
const sft = new SftDataset(join(work, 'sft'), 'val');
const held = gunzipSync(readFileSync('datasets/sft/val.jsonl.gz')).toString('utf8').trim().split('\n').slice(0, questions).map((l) => readConversation(JSON.parse(l)));

/** A 4-gram of ids that occurs three times or more. */
const repeats = (ids: number[]) => {
  const seen = new Map<string, number>();
  for (let i = 0; i + 4 <= ids.length; i++) {
    const key = ids.slice(i, i + 4).join(',');
    seen.set(key, (seen.get(key) ?? 0) + 1);
    if (seen.get(key)! >= 3) return true;
  }
  return false;
};

for (const dir of models) {
  const { model } = loadModelWithAdapter(dir);
  const logps = referenceLogProbs(model, new SftLoader(pairs, 16, 512, 0, false), pairs.length);
  let preferred = 0;
  for (let i = 0; i < pairs.length; i += 2) if (logps[i]! > logps[i + 1]!) preferred++;
  // All 477 SFT val conversations in 53 in-order batches of 9.
  const sftLoss = evaluate(model, new SftLoader(sft, 9, 512, 0, false), Math.floor(sft.length / 9)).loss;
  const session = new ChatSession(model, tokenizer, { sampling: { temperature: 0 }, maxTokens: 128, seed: 0 });
  let stopped = 0, repeating = 0;
  for (const messages of held) {
    session.reset();
    session.system = messages[0]!.role === 'system' ? messages[0]!.content : null;
    const question = messages.find((m) => m.role === 'user')!.content;
    const answer = session.reply(question);
    if (answer.finishReason === 'stop') stopped++;
    if (repeats(tokenizer.encode(answer.reply))) repeating++;
  }
  console.log(JSON.stringify({
    model: dir, held_out_pairs: pairs.length / 2, chosen_likelier: +(preferred / (pairs.length / 2)).toFixed(4),
    sft_val_loss: +sftLoss.toFixed(4), questions: held.length, answers_stopped: stopped, answers_repeating: repeating,
  }));
  model.dispose();
}
pairs.close();
sft.close();
rmSync(work, { recursive: true, force: true });
