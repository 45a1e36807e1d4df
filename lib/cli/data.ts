// `tinyllm data prepare`: text / JSONL files → token shards for `tinyllm train`, or SFT conversations →
// ids and loss masks for `tinyllm sft` (--format sft).
import { availableParallelism } from 'node:os';
import { EncodePool } from '../data/encode-pool.js';
import { prepareShards, SHARD_TOKENS, VAL_FRACTION } from '../data/prepare.js';
import { splitTokens } from '../data/shards.js';
import { loadTokenizer } from '../tokenizer/files.js';
import { prepareDpo } from '../data/preferences.js';
import { prepareSft, SFT_SEQ, SFT_VAL_FRACTION, type SftSplit } from '../data/sft.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { intFlag, listFlag, numberFlag, requiredFlag, stringFlag, type Args } from './args.js';
import type { Command } from './command.js';
import { formatCount, formatSeconds, Progress } from './progress.js';

const FORMATS = ['pretrain', 'sft', 'dpo'] as const;

const prepare: Command = {
  summary: 'tokenize pretraining text (token shards), SFT conversations or DPO pairs (ids + loss mask) with a train/val split',
  options: [
    { name: 'tokenizer', value: '<dir|tokenizer.json>', required: true, help: 'the tokenizer to encode with (copied into --out)' },
    { name: 'input', value: '<files…>', required: true, help: 'pretrain: text files (one document each) or {"text": …} JSONL; sft, dpo: JSONL records (see below); .gz ok' },
    { name: 'out', value: '<dir>', required: true, help: 'new directory for the data and index.json' },
    { name: 'format', value: FORMATS.join('|'), default: 'pretrain', help: 'what the input holds' },
    { name: 'val-fraction', value: '<x>', default: `${VAL_FRACTION} (sft: ${SFT_VAL_FRACTION})`, help: 'share of documents / conversations sent to the validation split' },
    { name: 'val', value: '<files…>', help: 'sft, dpo: files for the validation split instead of --val-fraction' },
    { name: 'seq', value: '<n>', default: SFT_SEQ, help: 'sft, dpo: longest example in tokens (a longer conversation loses whole turns from its end, or is skipped; so is a pair with a longer answer)' },
    { name: 'workers', value: '<n>', default: 'cores − 1, at most 8', help: 'pretrain: encoder threads (0: encode on the main thread)' },
    { name: 'shard-tokens', value: '<n>', default: SHARD_TOKENS, help: 'pretrain: tokens per shard file' },
  ],
  notes: () => [
    'SFT records, one per line, in any of the seeds\' formats:',
    '  minimind    {"conversations": [{"role": "system|user|assistant", "content": "…"}, …]}',
    '  ShareGPT    {"conversations": [{"from": "system|human|gpt", "value": "…"}, …]}',
    '  tiny-llm-zh {"question": "…", "answer": "…"}        (+ "system")',
    '  Alpaca      {"instruction": "…", "input": "…", "output": "…"}   (+ "system")',
    'The loss mask is 1 on each assistant message\'s content and its <|im_end|>, 0 elsewhere',
    '(check one with `tinyllm tokenizer encode --chat \'[…]\' --json`). Bad lines are skipped, counted and shown.',
    'DPO pairs, one per line:',
    '  minimind    {"chosen": [messages…], "rejected": [messages…]}   (the same prompt, then each answer)',
    '  TRL         {"prompt": "…", "chosen": "…", "rejected": "…"}   or prompt/chosen/rejected as message lists',
  ],
  async run(args) {
    const tokenizerPath = requiredFlag(args, 'tokenizer');
    const tokenizer = loadTokenizer(tokenizerPath);
    const files = listFlag(args, 'input', true);
    const out = requiredFlag(args, 'out');
    const format = stringFlag(args, 'format', 'pretrain')!;
    if (!(FORMATS as readonly string[]).includes(format)) throw new Error(`--format: '${format}', expected one of ${FORMATS.join(', ')}`);
    if (format !== 'pretrain') {
      await prepareExamplesCommand(format as 'sft' | 'dpo', args, tokenizer, files, out);
      return;
    }
    for (const flag of ['val', 'seq']) if (args.flags.has(flag)) throw new Error(`--${flag}: only with --format sft`);
    const workers = intFlag(args, 'workers', Math.max(1, Math.min(8, availableParallelism() - 1)), 0, 64)!;
    const started = performance.now();
    const progress = new Progress('prepare', files.length, ' files');
    // --workers 0 encodes on this thread (no worker start-up; for small inputs and bundled builds).
    const pool = workers > 0 ? new EncodePool(tokenizerPath, workers) : null;
    try {
      const index = await prepareShards({
        files, tokenizer, out,
        valFraction: numberFlag(args, 'val-fraction', VAL_FRACTION, 0, 0.99),
        shardTokens: intFlag(args, 'shard-tokens', SHARD_TOKENS, 1024),
        encode: pool?.encode, inFlight: 2 * Math.max(1, workers),
        onProgress: (p) => progress.update(p.files, `${formatCount(p.documents)} docs · ${formatCount(p.tokens)} tokens`),
      });
      for (const s of index.sources) {
        if (s.invalidUtf8 > 0) console.warn(`${s.file}: ${s.invalidUtf8} invalid UTF-8 sequence(s) replaced with U+FFFD`);
        if (s.malformed > 0) console.warn(`${s.file}: skipped ${s.malformed} malformed line(s), e.g.\n  ${s.malformedExamples.join('\n  ')}`);
      }
      const malformed = index.sources.reduce((n, s) => n + s.malformed, 0);
      console.log(
        `wrote ${out}: train ${formatCount(splitTokens(index, 'train'))} tokens (${index.documents.train} docs, ${index.train.length} shard(s)), ` +
        `val ${formatCount(splitTokens(index, 'val'))} tokens (${index.documents.val} docs), ${index.dtype}, ` +
        `${malformed} malformed line(s) skipped, in ${formatSeconds((performance.now() - started) / 1000)}`,
      );
    } finally {
      await pool?.close();
    }
  },
};

/** `data prepare --format sft|dpo`: conversations or pairs → ids + loss mask, with a report of what was kept, cut and skipped. */
async function prepareExamplesCommand(format: 'sft' | 'dpo', args: Args, tokenizer: Tokenizer, files: string[], out: string): Promise<void> {
  for (const flag of ['workers', 'shard-tokens']) if (args.flags.has(flag)) throw new Error(`--${flag}: only with --format pretrain`);
  const valFiles = args.flags.has('val') ? listFlag(args, 'val', true) : undefined;
  if (valFiles && args.flags.has('val-fraction')) throw new Error('--val and --val-fraction: give one');
  const started = performance.now();
  const progress = new Progress('prepare', files.length + (valFiles?.length ?? 0), ' files');
  const prepare = format === 'dpo' ? prepareDpo : prepareSft;
  const unit = format === 'dpo' ? 'pairs' : 'conversations';
  const index = await prepare({
    files, valFiles, tokenizer, out,
    valFraction: numberFlag(args, 'val-fraction', SFT_VAL_FRACTION, 0, 0.99),
    seq: intFlag(args, 'seq', SFT_SEQ, 2)!,
    onProgress: (p) => progress.update(p.files, `${formatCount(p.records)} ${unit}`),
  });
  for (const s of index.sources) {
    if (s.invalidUtf8 > 0) console.warn(`${s.file}: ${s.invalidUtf8} invalid UTF-8 sequence(s) replaced with U+FFFD`);
    if (s.malformed > 0) console.warn(`${s.file}: skipped ${s.malformed} malformed line(s), e.g.\n  ${s.malformedExamples.join('\n  ')}`);
  }
  const r = index.report;
  const split = (s: SftSplit) => `${format === 'dpo' ? s.examples / 2 : s.examples} ${unit}, ${formatCount(s.tokens)} tokens (${formatCount(s.trained)} trained)`;
  const cut = format === 'dpo' ? '' : ` (${r.cut} cut at a turn to fit --seq ${index.seq})`;
  console.log(
    `wrote ${out}: train ${split(index.train)}, val ${split(index.val)}; of ${r.records} read: ${r.kept} kept${cut}, ` +
    `${r.tooLong} skipped as longer than --seq ${index.seq}, ${r.malformed} malformed; in ${formatSeconds((performance.now() - started) / 1000)}`,
  );
}

export const DATA_COMMANDS: Record<string, Command> = { 'data prepare': prepare };
