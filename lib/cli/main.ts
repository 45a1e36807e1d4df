// `tinyllm <command>`: dispatch to a command; errors print one line (a stack trace with --debug).
import { checkFlags, optionValue, parseArgs } from './args.js';
import { BACKEND_OPTION, type Command, helpText } from './command.js';
import { DATA_COMMANDS } from './data.js';
import { demo } from './demo.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { chatCommand } from './chat.js';
import { generateCommand } from './generate.js';
import { LORA_COMMANDS } from './lora.js';
import { quantizeCommand } from './quantize.js';
import { serveCommand } from './serve.js';
import { score } from './score.js';
import { TOKENIZER_COMMANDS } from './tokenizer.js';
import { dpoCommand, sftCommand, trainCommand } from './train.js';

const info: Command = {
  summary: 'versions and the backend that would run the work',
  options: [BACKEND_OPTION],
  async run(args) {
    const { describeBackend, initBackend, parseBackendName } = await import('../backend/init.js');
    const tf = await import('@tensorflow/tfjs');
    await initBackend(parseBackendName(optionValue(args, BACKEND_OPTION)!), { quiet: true });
    const { describeBlas } = await import('../backend/wasm/register.js');
    console.log(`tiny-llm-ts · node ${process.version} · tfjs ${tf.version.tfjs} · backend ${describeBackend()}`);
    console.log(`CPU products: ${describeBlas()}`);
  },
};

const COMMANDS: Record<string, Command> = {
  info, ...TOKENIZER_COMMANDS, ...DATA_COMMANDS, train: trainCommand, sft: sftCommand, dpo: dpoCommand, ...LORA_COMMANDS, generate: generateCommand, chat: chatCommand, serve: serveCommand, score, eval: evalCommand, quantize: quantizeCommand, export: exportCommand, demo,
};

/** Summaries of the commands whose name starts with `prefix` ('' for all). */
function commandList(prefix: string): string {
  const names = Object.keys(COMMANDS).filter((n) => n.startsWith(prefix));
  const width = Math.max(...names.map((n) => n.length));
  return names.map((name) => `  ${name.padEnd(width)}  ${COMMANDS[name]!.summary}`).join('\n');
}

/** A group such as `tokenizer`: the commands that start with its word. */
const isGroup = (name: string) => Object.keys(COMMANDS).some((n) => n.startsWith(`${name} `));

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const help = args.flags.has('help') || args.words[0] === 'help';
  const words = args.words[0] === 'help' ? args.words.slice(1) : args.words;
  const name = words.join(' ');
  if (name === '') {
    console.log(`usage: tinyllm <command> [options]   (tinyllm <command> --help for its options)\n\n${commandList('')}`);
    return;
  }
  const command = COMMANDS[name];
  if (!command && isGroup(name)) {
    if (!help) throw new Error(`${name}: expected a subcommand, one of: ${Object.keys(COMMANDS).filter((n) => n.startsWith(`${name} `)).map((n) => n.slice(name.length + 1)).join(', ')}`);
    console.log(`usage: tinyllm ${name} <command> [options]   (tinyllm ${name} <command> --help for its options)\n\n${commandList(`${name} `)}`);
    return;
  }
  if (!command) throw new Error(`unknown command '${name}', expected one of: ${Object.keys(COMMANDS).join(', ')}`);
  if (help) {
    console.log(helpText(name, command));
    return;
  }
  args.flags.delete('debug');
  checkFlags(args, command.options);
  await command.run(args);
}

const debug = process.argv.includes('--debug');
main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(debug ? err : `tinyllm: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
