// The shape of a `tinyllm` command: its help and what it runs.
import type { Args } from './args.js';

/** One command, e.g. `tinyllm tokenizer train`. */
export interface Command {
  summary: string;
  usage: string;
  /** Flags it accepts (besides --help and --debug). */
  flags: readonly string[];
  run(args: Args): Promise<void>;
}
