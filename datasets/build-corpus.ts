// Builds the default pretraining corpus, datasets/corpus/*.jsonl.gz (one {"text": …} document per
// line), from freely licensed packages that Debian's and npm's registries serve. See datasets/README.md
// for sources and licences. Needs apt-get (Debian/Ubuntu), npm, dpkg-deb, tar and opencc
// (apt install opencc: converts the Tang poems from Traditional to Simplified script).
//
//   npx tsx datasets/build-corpus.ts [--sources /tmp/tinyllm-sources] [--out datasets/corpus]
//
// With --large it builds the larger corpus instead (README.md, "A larger corpus"): these sources, all of
// chinese-poetry and some fifty more packages, split by kind into parts of at most 100 MB of JSONL, with
// report.json (documents, characters, bytes and tokens per file and per source, and the licences), into a
// folder outside the repository:
//
//   npx tsx datasets/build-corpus.ts --large --out /tmp/tinyllm-large [--sources /tmp/tinyllm-sources]
import { mkdirSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { writeFileAtomic } from '../lib/io/atomic.js';
import { firstSeen, MIN_LENGTH } from './document-filter.js';
import { buildLarge } from './large-corpus.js';
import { largeDebianPackages } from './large-sources.js';
import { DEBIAN, debianDocs, libreofficeHelp, manPages, mobyDick, NPM, poetry, stateOfTheUnion } from './shipped-sources.js';
import { cleanText, fetchSources, type Folders, sourcesFolder } from './sources.js';

const OUT = 'datasets/corpus';
const REPO = fileURLToPath(new URL('..', import.meta.url));

const large = process.argv.includes('--large');
const out = outFolder(process.argv, large); // checked before anything is downloaded
const sources = sourcesFolder(process.argv);
const at: Folders = { sources, root: fetchSources(sources, large ? largeDebianPackages() : DEBIAN, NPM) }; // everything unpacked under root
if (large) buildLarge(at, out);
else buildShipped(at, out);

/** The shipped corpus: three files, written whole. */
function buildShipped(at: Folders, out: string): void {
  const corpus: Record<string, string[]> = {
    'zh-modern': [...debianDocs(at), ...libreofficeHelp(at, 'zh-CN'), ...manPages(at)],
    'zh-classical': [...poetry(at)],
    en: [...mobyDick(at), ...stateOfTheUnion(at)],
  };
  mkdirSync(out, { recursive: true });
  const unique = firstSeen(); // across the three files
  for (const [name, documents] of Object.entries(corpus)) {
    const kept = documents.map(cleanText).filter((d) => d.length >= MIN_LENGTH && unique(d));
    const jsonl = kept.map((text) => JSON.stringify({ text })).join('\n') + '\n';
    const gz = gzipSync(jsonl, { level: 9 });
    writeFileAtomic(join(out, `${name}.jsonl.gz`), gz);
    const chars = kept.reduce((n, d) => n + d.length, 0);
    console.log(`${name}: ${kept.length} documents, ${(chars / 1e6).toFixed(2)}M characters, ${(Buffer.byteLength(jsonl) / 1e6).toFixed(1)} MB, ${(gz.length / 1e6).toFixed(1)} MB gzipped`);
  }
}

/** The output folder: --out, by default datasets/corpus; --large needs one outside the repository, as its corpus stays out of git. */
function outFolder(argv: string[], large: boolean): string {
  const flag = argv.indexOf('--out');
  const dir = flag > 0 ? argv[flag + 1] : undefined;
  if (!large) return dir ?? OUT;
  if (dir === undefined) throw new Error('--large needs --out <dir>, a folder outside the repository');
  const inRepo = relative(REPO, resolve(dir));
  if (inRepo !== '..' && !inRepo.startsWith(`..${sep}`) && !isAbsolute(inRepo)) {
    throw new Error(`--out ${dir}: inside the repository; the large corpus is written outside git`);
  }
  return dir;
}
