// Command-line flags: `--name value…`, `--name=value` and bare `--flag`, plus the leading command words.
// A flag takes every word up to the next flag, so `--input a.txt b.txt` lists two files.
import type { OptionSpec } from './command.js';

/** Parsed command line: the words before the first flag, and each flag's values (none for a bare flag). */
export interface Args {
  words: string[];
  flags: Map<string, string[]>;
}

/** Parse argv (without node and the script). */
export function parseArgs(argv: string[]): Args {
  const words: string[] = [];
  const flags = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const word of argv) {
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = eq > 0 ? word.slice(2, eq) : word.slice(2);
      current = flags.get(name) ?? [];
      flags.set(name, current);
      if (eq > 0) current.push(word.slice(eq + 1));
    } else if (current) {
      current.push(word);
    } else {
      words.push(word);
    }
  }
  return { words, flags };
}

/** The single value of --name, or `fallback` when absent; errors name the flag. */
export function stringFlag(args: Args, name: string, fallback?: string): string | undefined {
  const values = args.flags.get(name);
  if (values === undefined) return fallback;
  if (values.length !== 1) throw new Error(`--${name}: ${values.length === 0 ? 'missing value' : `${values.length} values`}, expected --${name} <value>`);
  return values[0];
}

/** The single value of `option` on the command line, or the default its spec declares (one place for it: --help shows the same). */
export function optionValue(args: Args, option: OptionSpec): string | undefined {
  return stringFlag(args, option.name, option.default === undefined ? undefined : String(option.default));
}

/** The single value of a flag that must be given. */
export function requiredFlag(args: Args, name: string): string {
  const value = stringFlag(args, name);
  if (value === undefined) throw new Error(`--${name}: missing, expected --${name} <value>`);
  return value;
}

/** An integer flag within [min, max]. */
export function intFlag(args: Args, name: string, fallback?: number, min = -Infinity, max = Infinity): number | undefined {
  const value = stringFlag(args, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${name}: '${value}' is not valid, expected an integer${min > -Infinity ? ` >= ${min}` : ''}${max < Infinity ? ` and <= ${max}` : ''}`);
  }
  return n;
}

/** A number flag (e.g. a learning rate) within [min, max]. */
export function numberFlag<F extends number | undefined>(args: Args, name: string, fallback: F, min = -Infinity, max = Infinity): number | F {
  const value = stringFlag(args, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new Error(`--${name}: '${value}' is not valid, expected a number${min > -Infinity ? ` >= ${min}` : ''}${max < Infinity ? ` and <= ${max}` : ''}`);
  }
  return n;
}

/** Every value of --name (at least one when required). */
export function listFlag(args: Args, name: string, required = false): string[] {
  const values = args.flags.get(name) ?? [];
  if (required && values.length === 0) throw new Error(`--${name}: missing, expected --${name} <value…>`);
  return values;
}

/** Reject flags a command does not know (typos fail instead of being ignored), values given to a switch, and missing required options. */
export function checkFlags(args: Args, options: readonly OptionSpec[]): void {
  for (const [name, values] of args.flags) {
    const option = options.find((o) => o.name === name);
    if (!option) throw new Error(`--${name}: unknown option, expected one of ${options.map((o) => `--${o.name}`).join(', ')}`);
    if (!option.value && values.length > 0) throw new Error(`--${name}: takes no value, got '${values.join(' ')}'`);
  }
  for (const o of options) {
    if (o.required && !args.flags.has(o.name)) throw new Error(`--${o.name}: missing, expected --${o.name} ${o.value}`);
  }
}
