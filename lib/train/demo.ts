// The demo run behind `npm run demo`: the whole pretraining pipeline on the shipped data, sized for a
// laptop CPU — shards from datasets/corpus with datasets/tokenizer, a few hundred steps of `nano`, the
// validation loss falling, and what the model makes of a few prompts before and after: the tokens it
// expects next (where learning shows first) and sampled continuations.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { prepareShards } from '../data/prepare.js';
import { splitTokens } from '../data/shards.js';
import { generateText } from '../infer/sampling.js';
import { topNextTokens } from '../eval/logprobs.js';
import { presetConfig } from '../model/config.js';
import type { LlamaModel } from '../model/model.js';
import { loadTokenizer } from '../tokenizer/files.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { train, type TrainHooks } from './loop.js';
import { DEMO_TRAINING } from './options.js';

const CORPUS = ['datasets/corpus/zh-modern.jsonl.gz', 'datasets/corpus/zh-classical.jsonl.gz', 'datasets/corpus/en.jsonl.gz'];
/** Prompts whose next token the corpus makes nearly certain: 床前明月→光, 操作系→统, The United→ States. */
const NEXT_PROMPTS = ['床前明月', '操作系', 'The United'];
const SAMPLE_PROMPTS = ['床前明月光，', '操作系统是', 'The computer'];

/** The three tokens the model finds likeliest after each prompt, e.g. `"光" 62% · "中" 4.1% · "下" 3.0%`. */
export function expectations(model: LlamaModel, tokenizer: Tokenizer): string[] {
  const percent = (p: number) => `${(100 * p).toFixed(p >= 0.1 ? 0 : p >= 0.01 ? 1 : 2)}%`;
  return NEXT_PROMPTS.map((prompt) => topNextTokens(model, tokenizer.encode(prompt), 3)
    .map((t) => `${JSON.stringify(tokenizer.idToString(t.id))} ${percent(t.p)}`).join(' · '));
}

/** A sampled continuation of each prompt, one line each (seeded). */
export function samples(model: LlamaModel, tokenizer: Tokenizer, maxNewTokens = 32): string[] {
  return SAMPLE_PROMPTS.map((prompt, i) => {
    const text = generateText(model, tokenizer, prompt, { maxNewTokens, temperature: 0.7, topK: 20, repetitionPenalty: 1.2, seed: i });
    return `${prompt}${text}`.replace(/\s+/g, ' ');
  });
}

/** Options of runDemo. */
export interface DemoOptions {
  out: string;
  steps: number;
  /** Where the demo's report lines go (the CLI prints them; the test drops them). */
  log?: (line: string) => void;
  /** Passed on to train(): the CLI draws its progress bar here. */
  onStep?: TrainHooks['onStep'];
}

/** Prepare shards (once), train nano, report; returns the validation losses and the run directory. */
export async function runDemo(o: DemoOptions): Promise<{ initialValLoss: number; finalValLoss: number; run: string }> {
  const log = o.log ?? (() => {});
  const data = join(o.out, 'data');
  if (!existsSync(join(data, 'index.json'))) {
    log(`1. tokenizing the shipped corpus into ${data}`);
    const started = performance.now();
    const index = await prepareShards({ files: CORPUS, tokenizer: loadTokenizer('datasets/tokenizer'), out: data });
    log(`   ${splitTokens(index, 'train')} train tokens, ${splitTokens(index, 'val')} val tokens in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } else {
    log(`1. using the shards already in ${data}`);
  }
  const run = join(o.out, `run-${Date.now()}`);
  log(`2. training nano for ${o.steps} steps (batch ${DEMO_TRAINING.batch} × ${DEMO_TRAINING.seq} tokens) in ${run}`);
  const config = presetConfig('nano');
  let before: string[] = [];
  const result = await train({ ...DEMO_TRAINING, data, out: run, config, steps: o.steps, evalEvery: Math.max(1, Math.floor(o.steps / 5)) }, {
    onStart: (model, tokenizer) => {
      before = expectations(model, tokenizer);
      log('   the untrained model, prompted:');
      for (const s of samples(model, tokenizer, 16)) log(`     ${s}`);
    },
    onStep: async (m) => {
      await o.onStep?.(m);
      if (m.val_loss !== undefined) log(`   step ${String(m.step).padStart(4)}  loss ${m.loss.toFixed(3)}  val ${m.val_loss.toFixed(3)}  ${m.tok_s} tok/s`);
    },
  });
  const last = result.history[result.history.length - 1]!;
  log(`3. validation loss ${result.initialValLoss!.toFixed(3)} → ${last.val_loss!.toFixed(3)} (a uniform guess is ln ${result.tokenizer.vocabSize} = ${Math.log(result.tokenizer.vocabSize).toFixed(3)})`);
  log('4. the tokens it expects next, untrained → trained:');
  const after = expectations(result.model, result.tokenizer);
  const width = Math.max(...NEXT_PROMPTS.map((p) => p.length));
  NEXT_PROMPTS.forEach((prompt, i) => log(`     ${prompt.padEnd(width)}  ${before[i]}\n     ${' '.repeat(width)}  ${after[i]}`));
  log('5. the trained model, prompted:');
  for (const s of samples(result.model, result.tokenizer)) log(`     ${s}`);
  result.model.dispose();
  return { initialValLoss: result.initialValLoss!, finalValLoss: last.val_loss!, run };
}
