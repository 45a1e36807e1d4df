// `tinyllm <command>`: dispatch to a command; errors print one line (a stack trace with --debug).
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend, parseBackendName } from '../backend/init.js';
import { type Args, checkFlags, parseArgs, stringFlag } from './args.js';

interface Command {
  summary: string;
  usage: string;
  flags: readonly string[];
  run(args: Args): Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  info: {
    summary: 'versions and the backend that would run the work',
    usage: 'tinyllm info [--backend auto|cpu|wasm|cuda]',
    flags: ['backend'],
    async run(args) {
      await initBackend(parseBackendName(stringFlag(args, 'backend', 'auto')!), { quiet: true });
      console.log(`tiny-llm-ts · node ${process.version} · tfjs ${tf.version.tfjs} · backend ${describeBackend()}`);
    },
  },
};

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
  const name = args.positional.shift();
  if (name === undefined || name === 'help') {
    console.log(help());
    return;
  }
  const command = COMMANDS[name];
  if (!command) throw new Error(`unknown command '${name}', expected one of ${Object.keys(COMMANDS).join(', ')}`);
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
