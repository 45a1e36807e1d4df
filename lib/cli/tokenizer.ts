// `tinyllm tokenizer train|encode|decode`.
import { readFileSync } from 'node:fs';
import { parseConversationFlag } from '../data/conversations.js';
import { readDocuments } from '../data/documents.js';
import { applyChatTemplate } from '../tokenizer/chat.js';
import { loadTokenizer, saveTokenizer } from '../tokenizer/files.js';
import { minVocabSize, PieceCounts, trainTokenizer } from '../tokenizer/train.js';
import { intFlag, listFlag, requiredFlag, stringFlag } from './args.js';
import type { Command } from './command.js';
import { formatCount, formatSeconds, Progress } from './progress.js';

const train: Command = {
  summary: 'train a byte-level BPE tokenizer on text files',
  options: [
    { name: 'input', value: '<files…>', required: true, help: 'text or {"text": …} JSONL files, .gz ok' },
    { name: 'vocab-size', value: '<n>', required: true, help: `vocabulary size, at least ${minVocabSize()} (256 bytes + the special tokens)` },
    { name: 'out', value: '<dir>', required: true, help: 'directory for tokenizer.json and tokenizer_config.json' },
  ],
  async run(args) {
    const inputs = listFlag(args, 'input', true);
    const vocabSize = intFlag(args, 'vocab-size', undefined, minVocabSize());
    if (vocabSize === undefined) throw new Error('--vocab-size: missing, expected --vocab-size <n>');
    const out = requiredFlag(args, 'out');
    const started = performance.now();
    const pieces = new PieceCounts();
    let totalBytes = 0;
    for (const file of inputs) {
      const stats = await readDocuments(file, (text) => pieces.add(text));
      if (stats.bytes === 0) throw new Error(`${file}: empty, expected text to train on`);
      if (stats.invalid > 0) console.warn(`${file}: ${stats.invalid} invalid UTF-8 sequence(s) replaced with U+FFFD`);
      if (stats.malformed > 0) console.warn(`${file}: skipped ${stats.malformed} malformed line(s), e.g.\n  ${stats.malformedExamples.join('\n  ')}`);
      totalBytes += stats.bytes;
      console.error(`read ${file}: ${formatCount(stats.bytes)}B, ${formatCount(stats.documents)} document(s)`);
    }
    console.error(`${formatCount(pieces.counts.size)} distinct pieces in ${formatCount(totalBytes)}B`);
    const merging = new Progress('merging', vocabSize - minVocabSize());
    const tokenizer = trainTokenizer(pieces, {
      vocabSize,
      onProgress: (p) => merging.update(p.merges, `last merge seen ${formatCount(p.count)}×`),
    });
    saveTokenizer(tokenizer, out);
    const seconds = (performance.now() - started) / 1000;
    console.log(`wrote ${out}/tokenizer.json and tokenizer_config.json: vocab ${tokenizer.vocabSize} (${tokenizer.model.merges.length} merges) in ${formatSeconds(seconds)}`);
  },
};

const encode: Command = {
  summary: 'encode text (--text, or standard input) or a conversation (--chat) to ids, printed as JSON',
  options: [
    { name: 'tokenizer', value: '<dir|tokenizer.json>', required: true, help: 'the tokenizer' },
    { name: 'text', value: '<s>', default: 'standard input', help: 'the text to encode' },
    { name: 'chat', value: '<messages JSON>', help: 'a conversation instead: [{"role": "user", "content": "…"}, {"role": "assistant", …}] or any SFT record' },
    { name: 'json', help: 'with --chat: print {"ids": […], "mask": […]}, mask 1 where SFT trains (as `data prepare --format sft`)' },
  ],
  async run(args) {
    const tokenizer = loadTokenizer(requiredFlag(args, 'tokenizer'));
    const chat = stringFlag(args, 'chat');
    if (chat === undefined) {
      if (args.flags.has('json')) throw new Error('--json: only with --chat (plain --text output is already JSON)');
      const text = stringFlag(args, 'text') ?? readFileSync(0, 'utf8');
      console.log(JSON.stringify(tokenizer.encode(text)));
      return;
    }
    if (stringFlag(args, 'text') !== undefined) throw new Error('--text and --chat: give one');
    const { ids, assistantMask } = applyChatTemplate(tokenizer, parseConversationFlag(chat, '--chat'));
    console.log(JSON.stringify(args.flags.has('json') ? { ids, mask: assistantMask } : ids));
  },
};

const decode: Command = {
  summary: 'decode comma-separated ids to text',
  options: [
    { name: 'tokenizer', value: '<dir|tokenizer.json>', required: true, help: 'the tokenizer' },
    { name: 'ids', value: '<1,2,3>', required: true, help: 'comma-separated token ids' },
  ],
  async run(args) {
    const tokenizer = loadTokenizer(requiredFlag(args, 'tokenizer'));
    const ids = parseIds(requiredFlag(args, 'ids'), tokenizer.vocabSize);
    process.stdout.write(`${tokenizer.decode(ids)}\n`);
  },
};

/** "1, 2,3" -> [1, 2, 3]; errors name the bad entry. */
export function parseIds(text: string, vocabSize: number): number[] {
  return text.split(',').map((part, i) => {
    const id = Number(part.trim());
    if (part.trim() === '' || !Number.isInteger(id) || id < 0) throw new Error(`--ids: entry ${i + 1} '${part.trim()}' is not an id, expected comma-separated integers`);
    if (id >= vocabSize) throw new Error(`--ids: entry ${i + 1} (${id}) is outside the vocabulary, expected < ${vocabSize}`);
    return id;
  });
}

/** The tokenizer commands by name. */
export const TOKENIZER_COMMANDS: Record<string, Command> = {
  'tokenizer train': train,
  'tokenizer encode': encode,
  'tokenizer decode': decode,
};
