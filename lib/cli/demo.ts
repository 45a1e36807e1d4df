// `tinyllm demo` (npm run demo): the whole pretraining pipeline on the shipped data, sized for a laptop
// CPU — shards from datasets/corpus with datasets/tokenizer, a few hundred steps of `nano`, the
// validation loss falling, and samples from the model before and after.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, parseBackendName } from '../backend/init.js';
import { prepareShards } from '../data/prepare.js';
import { splitTokens } from '../data/shards.js';
import { generate } from '../infer/sampling.js';
import { presetConfig } from '../model/config.js';
import type { LlamaModel } from '../model/model.js';
import { loadTokenizer } from '../tokenizer/files.js';
import { ENDOFTEXT } from '../tokenizer/special.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { train } from '../train/loop.js';
import { intFlag, stringFlag } from './args.js';
import type { Command } from './command.js';
import { formatSeconds } from './progress.js';

const CORPUS = ['datasets/corpus/zh-modern.jsonl.gz', 'datasets/corpus/zh-classical.jsonl.gz', 'datasets/corpus/en.jsonl.gz'];
const PROMPTS = ['床前明月光，', '操作系统是', 'The computer'];

/** A few continuations, one line each (sampled, seeded). */
export function samples(model: LlamaModel, tokenizer: Tokenizer, maxNewTokens = 32): string[] {
  const eot = tokenizer.specialId(ENDOFTEXT);
  return PROMPTS.map((prompt, i) => {
    const ids = generate(model, tokenizer.encode(prompt), { maxNewTokens, temperature: 0.8, topK: 40, seed: i, stopIds: [eot] });
    return `${prompt}${tokenizer.decode(ids.filter((id) => id !== eot))}`.replace(/\s+/g, ' ');
  });
}

/** Options of runDemo. */
export interface DemoOptions {
  out: string;
  steps: number;
  /** Print the progress bar and samples (the test turns them off). */
  verbose?: boolean;
}

/** Prepare shards (once), train nano, print samples; returns the run's result summary. */
export async function runDemo(o: DemoOptions): Promise<{ initialValLoss: number; finalValLoss: number; run: string }> {
  const say = (line: string) => { if (o.verbose !== false) console.log(line); };
  const data = join(o.out, 'data');
  if (!existsSync(join(data, 'index.json'))) {
    say(`1. tokenizing the shipped corpus into ${data}`);
    const index = await prepareShards({ files: CORPUS, tokenizer: loadTokenizer('datasets/tokenizer'), out: data, valFraction: 0.01 });
    say(`   ${splitTokens(index, 'train')} train tokens, ${splitTokens(index, 'val')} val tokens`);
  } else {
    say(`1. using the shards already in ${data}`);
  }
  const run = join(o.out, `run-${Date.now()}`);
  say(`2. training nano for ${o.steps} steps (batch 8 × 128 tokens) in ${run}`);
  const result = await train({
    data, out: run, config: presetConfig('nano'), steps: o.steps, batch: 8, seq: 128, accum: 1,
    lr: 3e-3, minLr: 3e-4, warmup: Math.min(30, Math.ceil(o.steps / 10)), weightDecay: 0.1, clip: 1, seed: 0,
    evalEvery: Math.max(1, Math.floor(o.steps / 5)), evalBatches: 4, saveEvery: 0, resume: false, progress: o.verbose !== false,
  }, {
    onStart: (model, tokenizer) => {
      say('   samples from the untrained model:');
      if (o.verbose !== false) for (const s of samples(model, tokenizer, 16)) say(`   ${s}`);
    },
    onStep: (m) => {
      if (m.val_loss !== undefined) say(`   step ${String(m.step).padStart(4)}  loss ${m.loss.toFixed(3)}  val ${m.val_loss.toFixed(3)}  ${m.tok_s} tok/s`);
    },
  });
  const last = result.history[result.history.length - 1]!;
  say(`3. validation loss ${result.initialValLoss!.toFixed(3)} → ${last.val_loss!.toFixed(3)} (a uniform guess is ln ${result.tokenizer.vocabSize} = ${Math.log(result.tokenizer.vocabSize).toFixed(3)})`);
  say('4. samples after training:');
  if (o.verbose !== false) for (const s of samples(result.model, result.tokenizer)) say(`   ${s}`);
  result.model.dispose();
  return { initialValLoss: result.initialValLoss!, finalValLoss: last.val_loss!, run };
}

export const demo: Command = {
  summary: 'prepare the shipped corpus and train the nano model on it for a few minutes, with samples',
  usage: 'tinyllm demo [--out runs/demo] [--steps 250] [--backend auto|cpu|wasm|cuda]',
  flags: ['out', 'steps', 'backend'],
  async run(args) {
    const started = performance.now();
    await initBackend(parseBackendName(stringFlag(args, 'backend', 'auto')!));
    const { run } = await runDemo({ out: stringFlag(args, 'out', 'runs/demo')!, steps: intFlag(args, 'steps', 250, 1)! });
    console.log(`done in ${formatSeconds((performance.now() - started) / 1000)}; model in ${run}/final (try: npx tinyllm score --model ${run}/final --text 床前明月光)`);
  },
};
