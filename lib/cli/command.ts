// The shape of a `tinyllm` command — its summary, its options with their meaning and default, and
// what it runs — and the `--help` text made from it.
// Command files import the library inside run(), not at the top: `tinyllm --help` then starts
// without loading TensorFlow.js (most of a cold start).
import type { Args } from './args.js';

/** One option of a command: what `--help` shows and what the command accepts. */
export interface OptionSpec {
  name: string;
  /** What follows the flag, e.g. '<n>' or '<files…>'; absent for a switch such as --resume. */
  value?: string;
  help: string;
  /** Shown as "(default …)"; a string may describe a default that depends on other options. */
  default?: string | number;
  /** Shown in the usage line and checked before the command runs. */
  required?: boolean;
}

/** One command, e.g. `tinyllm tokenizer train`. */
export interface Command {
  summary: string;
  /** Options in the order --help lists them (besides --help and --debug). */
  options: readonly OptionSpec[];
  /** Lines --help prints after the options (e.g. the presets and their sizes). */
  notes?: () => string[];
  run(args: Args): Promise<void>;
}

/** The option every command that runs tensors takes. */
export const BACKEND_OPTION: OptionSpec = {
  name: 'backend', value: 'auto|cpu|wasm|cuda', default: 'auto',
  help: 'where tensors live; auto takes cuda when a GPU is there, else the fastest CPU backend',
};

const flagText = (o: OptionSpec) => `--${o.name}${o.value ? ` ${o.value}` : ''}`;

/** "tinyllm train --data <dir> --out <dir> [options]". */
export function usageLine(name: string, command: Command): string {
  const required = command.options.filter((o) => o.required).map(flagText);
  const optional = command.options.some((o) => !o.required) ? ['[options]'] : [];
  return ['tinyllm', name, ...required, ...optional].join(' ');
}

/** The full `tinyllm <name> --help` text: usage, summary, every option with its meaning and default. */
export function helpText(name: string, command: Command): string {
  const width = Math.min(32, Math.max(...command.options.map((o) => flagText(o).length)));
  const lines = command.options.map((o) => {
    const flag = flagText(o);
    const extra = o.required ? ' (required)' : o.default !== undefined ? ` (default ${o.default})` : '';
    // A long flag gets its own line so the descriptions stay in one column.
    return flag.length > width ? `  ${flag}\n  ${' '.repeat(width)}  ${o.help}${extra}` : `  ${flag.padEnd(width)}  ${o.help}${extra}`;
  });
  return [
    `usage: ${usageLine(name, command)}`, '', command.summary,
    ...(lines.length > 0 ? ['', 'options:', ...lines] : []),
    ...(command.notes ? ['', ...command.notes()] : []),
  ].join('\n');
}

/** The option of every command that runs a model: a LoRA adapter on top of it. */
export const ADAPTER_OPTION: OptionSpec = {
  name: 'adapter', value: '<dir>',
  help: "a LoRA adapter (adapter_config.json + adapter_model.safetensors, ours or peft's) applied on the fly; --model may also be an adapter directory alone, whose base_model_name_or_path is loaded",
};
