// `tinyllm <command>`: dispatch to a command; errors print one line (a stack trace with --debug).
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend, parseBackendName } from '../backend/init.js';
import { checkFlags, parseArgs, stringFlag } from './args.js';
import type { Command } from './command.js';
import { DATA_COMMANDS } from './data.js';
import { demo } from './demo.js';
import { score } from './score.js';
import { TOKENIZER_COMMANDS } from './tokenizer.js';
import { trainCommand } from './train.js';

const info: Command = {
  summary: 'versions and the backend that would run the work',
  usage: 'tinyllm info [--backend auto|cpu|wasm|cuda]',
  flags: ['backend'],
  async run(args) {
    await initBackend(parseBackendName(stringFlag(args, 'backend', 'auto')!), { quiet: true });
    console.log(`tiny-llm-ts · node ${process.version} · tfjs ${tf.version.tfjs} · backend ${describeBackend()}`);
  },
};

const COMMANDS: Record<string, Command> = { info, ...TOKENIZER_COMMANDS, ...DATA_COMMANDS, train: trainCommand, score, demo };

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: tinyllm <command> [options]   (tinyllm <command> --help for its options)',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  if (args.words.length === 0 || args.words[0] === 'help') {
    console.log(help());
    return;
  }
  const name = args.words.join(' ');
  const command = COMMANDS[name];
  if (!command) throw new Error(`unknown command '${name}', expected one of: ${Object.keys(COMMANDS).join(', ')}`);
  if (args.flags.has('help')) {
    console.log(`usage: ${command.usage}\n\n${command.summary}`);
    return;
  }
  args.flags.delete('debug');
  checkFlags(args, command.flags);
  await command.run(args);
}

const debug = process.argv.includes('--debug');
main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(debug ? err : `tinyllm: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
