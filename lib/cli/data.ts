// `tinyllm data prepare`: text / JSONL files → token shards for `tinyllm train`.
import { availableParallelism } from 'node:os';
import { EncodePool } from '../data/encode-pool.js';
import { prepareShards, SHARD_TOKENS, VAL_FRACTION } from '../data/prepare.js';
import { splitTokens } from '../data/shards.js';
import { loadTokenizer } from '../tokenizer/files.js';
import { intFlag, listFlag, numberFlag, requiredFlag } from './args.js';
import type { Command } from './command.js';
import { formatCount, formatSeconds, Progress } from './progress.js';

const prepare: Command = {
  summary: 'tokenize text or {"text": …} JSONL files (optionally .gz) into token shards with a train/val split',
  options: [
    { name: 'tokenizer', value: '<dir|tokenizer.json>', required: true, help: 'the tokenizer to encode with (copied into --out)' },
    { name: 'input', value: '<files…>', required: true, help: 'text files (one document each) or JSONL files of {"text": …} (one document a line), .gz ok' },
    { name: 'out', value: '<dir>', required: true, help: 'new directory for the shards and index.json' },
    { name: 'val-fraction', value: '<x>', default: VAL_FRACTION, help: 'share of documents sent to the validation split' },
    { name: 'workers', value: '<n>', default: 'cores − 1, at most 8', help: 'encoder threads (0: encode on the main thread)' },
    { name: 'shard-tokens', value: '<n>', default: SHARD_TOKENS, help: 'tokens per shard file' },
  ],
  async run(args) {
    const tokenizerPath = requiredFlag(args, 'tokenizer');
    const tokenizer = loadTokenizer(tokenizerPath);
    const files = listFlag(args, 'input', true);
    const out = requiredFlag(args, 'out');
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

export const DATA_COMMANDS: Record<string, Command> = { 'data prepare': prepare };
