// Command-line flags: `--name value`, `--name=value` and bare `--flag` (true), plus positionals.

/** Parsed command line: flags by name (without dashes) and positional words. */
export interface Args {
  flags: Map<string, string | true>;
  positional: string[];
}

/** Parse argv (without node and script); a flag followed by another flag or nothing is boolean. */
export function parseArgs(argv: string[]): Args {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith('--')) {
      positional.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    if (eq > 0) {
      flags.set(word.slice(2, eq), word.slice(eq + 1));
    } else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) {
      flags.set(word.slice(2), argv[++i]!);
    } else {
      flags.set(word.slice(2), true);
    }
  }
  return { flags, positional };
}

/** The string value of --name, or `fallback`; a bare --name is an error naming the flag. */
export function stringFlag(args: Args, name: string, fallback?: string): string | undefined {
  const value = args.flags.get(name);
  if (value === undefined) return fallback;
  if (value === true) throw new Error(`--${name}: missing value, expected --${name} <value>`);
  return value;
}

/** Reject flags a command does not know, so typos fail instead of being ignored. */
export function checkFlags(args: Args, known: readonly string[]): void {
  for (const name of args.flags.keys()) {
    if (!known.includes(name)) throw new Error(`--${name}: unknown option, expected one of ${known.map((k) => `--${k}`).join(', ')}`);
  }
}
