// `tinyllm data prepare`: text / JSONL files → token shards for `tinyllm train`.
import { availableParallelism } from 'node:os';
import { EncodePool } from '../data/encode-pool.js';
import { prepareShards } from '../data/prepare.js';
import { splitTokens } from '../data/shards.js';
import { loadTokenizer } from '../tokenizer/files.js';
import { intFlag, listFlag, numberFlag, requiredFlag } from './args.js';
import type { Command } from './command.js';
import { formatCount, formatSeconds, Progress } from './progress.js';

const prepare: Command = {
  summary: 'tokenize text or {"text": …} JSONL files (optionally .gz) into token shards with a train/val split',
  usage: 'tinyllm data prepare --tokenizer <dir|tokenizer.json> --input <files…> --out <dir> [--val-fraction 0.01] [--workers N] [--shard-tokens N]',
  flags: ['tokenizer', 'input', 'out', 'val-fraction', 'workers', 'shard-tokens'],
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
        valFraction: numberFlag(args, 'val-fraction', 0.01, 0, 0.99),
        shardTokens: intFlag(args, 'shard-tokens', 1 << 24, 1024),
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
