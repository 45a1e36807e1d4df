// Builds the large corpus (build-corpus.ts --large; README.md, "A larger corpus"): reads the sources of
// large-sources.ts in turn, keeps what the shipped corpus would (document-filter.ts) and, of zh-modern, only
// the documents mostly in Han characters, and appends each to its kind's part files, <kind>-NN.jsonl.gz of
// at most PART_BYTES of JSONL. Then report.json, and the same counts as tables on stdout.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { writeFileAtomic } from '../lib/io/atomic.js';
import { loadTokenizer } from '../lib/tokenizer/files.js';
import { firstSeen, MIN_LENGTH } from './document-filter.js';
import { type Kind, LARGE_SOURCES, packageOf } from './large-sources.js';
import { cleanText, type Folders } from './sources.js';
import { hanShare } from './text-formats.js';

const PART_BYTES = 100e6; // JSONL bytes per part file at most, so that a part loads whole
const MIN_HAN = 0.2; // a zh-modern document needs this share of Han characters among its letters

/** Documents, characters, UTF-8 bytes of text and tokens of the shipped tokenizer (without <|endoftext|>). */
interface Counts {
  documents: number;
  characters: number;
  bytes: number;
  tokens: number;
}

/** What report.json says of one part file. */
interface FileReport extends Counts {
  file: string;
  kind: Kind;
  gzipBytes: number;
}

/** What report.json says of one source; `dropped` counts documents too short, not Chinese enough (zh-modern) and duplicates. */
interface SourceReport extends Counts {
  name: string;
  package: string;
  licence: string;
  kind: Kind;
  dropped: { short: number; notChinese: number; duplicate: number };
}

/** The large corpus from the packages in `at` into `out`: each source read in turn, cleaned, de-duplicated against everything before it and appended to its kind's parts; then report.json. */
export function buildLarge(at: Folders, out: string): void {
  const tokenizer = loadTokenizer(fileURLToPath(new URL('tokenizer', import.meta.url)));
  mkdirSync(out, { recursive: true });
  const unique = firstSeen();
  const written: FileReport[] = [];
  const parts = new Map<Kind, ReturnType<typeof partWriter>>();
  const reports: SourceReport[] = [];
  for (const [i, source] of LARGE_SOURCES.entries()) {
    progress(`[${i + 1}/${LARGE_SOURCES.length}] ${source.name} (${source.pkg}): reading`);
    const counts = zero();
    const dropped = { short: 0, notChinese: 0, duplicate: 0 };
    for (const document of source.documents(at)) {
      const text = cleanText(document);
      if (text.length < MIN_LENGTH) dropped.short++;
      else if (source.kind === 'zh-modern' && hanShare(text) < MIN_HAN) dropped.notChinese++;
      else if (!unique(text)) dropped.duplicate++;
      else {
        const c = { documents: 1, characters: text.length, bytes: Buffer.byteLength(text), tokens: tokenizer.encode(text).length };
        addCounts(counts, c);
        if (!parts.has(source.kind)) parts.set(source.kind, partWriter(out, source.kind, written));
        parts.get(source.kind)!.add(text, c);
      }
    }
    reports.push({ name: source.name, package: packageOf(at, source.pkg), licence: source.licence, kind: source.kind, ...counts, dropped });
    const soFar = reports.reduce((t, r) => addCounts(t, r), zero());
    progress(`  kept ${counts.documents} documents, ${millions(counts.tokens)} tokens (dropped: ${JSON.stringify(dropped)}); so far ${soFar.documents} documents, ${millions(soFar.tokens)} tokens`);
  }
  for (const p of parts.values()) p.flush();
  removeStaleParts(out, written);
  const total = written.reduce((t, f) => ({ ...addCounts(t, f), gzipBytes: t.gzipBytes + f.gzipBytes }), { ...zero(), gzipBytes: 0 });
  const seconds = Math.round(performance.now() / 1000); // since the process started: downloads and unpacking included
  const report = { built: new Date().toISOString(), seconds, tokenizer: 'datasets/tokenizer', minLength: MIN_LENGTH, total, files: written, sources: reports };
  writeFileAtomic(join(out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  printReport(reports, written, total);
  console.log(`wrote ${out}: ${written.length} files and report.json in ${seconds} s`);
}

/** The part files of one kind in `out`: documents go into the current part, which is written (gzipped, atomically) as <kind>-NN.jsonl.gz when the next document would take it past PART_BYTES, or on flush; `written` gets each file's report. */
function partWriter(out: string, kind: Kind, written: FileReport[]): { add: (text: string, counts: Counts) => void; flush: () => void } {
  let lines: string[] = [];
  let bytes = 0;
  let counts = zero();
  const flush = () => {
    if (lines.length === 0) return;
    const file = `${kind}-${String(written.filter((f) => f.kind === kind).length).padStart(2, '0')}.jsonl.gz`;
    const gz = gzipSync(lines.join(''), { level: 9 });
    writeFileAtomic(join(out, file), gz);
    written.push({ file, kind, ...counts, gzipBytes: gz.length });
    progress(`  wrote ${file}: ${counts.documents} documents, ${(bytes / 1e6).toFixed(1)} MB, ${(gz.length / 1e6).toFixed(1)} MB gzipped`);
    lines = [];
    bytes = 0;
    counts = zero();
  };
  const add = (text: string, c: Counts) => {
    const line = JSON.stringify({ text }) + '\n';
    const size = Buffer.byteLength(line);
    if (lines.length > 0 && bytes + size > PART_BYTES) flush();
    lines.push(line);
    bytes += size;
    addCounts(counts, c);
  };
  return { add, flush };
}

/** Remove part files that an earlier, larger run left in `out`, so that the folder holds this corpus only. */
function removeStaleParts(out: string, written: FileReport[]): void {
  const names = new Set(written.map((f) => f.file));
  for (const f of readdirSync(out)) if (/^(zh|en)-[a-z]+-\d+\.jsonl\.gz$/.test(f) && !names.has(f)) rmSync(join(out, f));
}

/** Counts of nothing yet. */
function zero(): Counts {
  return { documents: 0, characters: 0, bytes: 0, tokens: 0 };
}

/** Add b's counts to a's; returns a. */
function addCounts<T extends Counts>(a: T, b: Counts): T {
  a.documents += b.documents;
  a.characters += b.characters;
  a.bytes += b.bytes;
  a.tokens += b.tokens;
  return a;
}

/** n in millions, as "12.34M". */
function millions(n: number): string {
  return `${(n / 1e6).toFixed(2)}M`;
}

/** One line of progress, on stderr (stdout has the report). */
function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The tables of the end of a --large run: sources with their licences, then files, then the total. */
function printReport(reports: SourceReport[], written: FileReport[], total: Counts & { gzipBytes: number }): void {
  console.log('\nsource | package | licence | documents | characters | tokens');
  for (const r of reports) console.log(`${r.name} | ${r.package} | ${r.licence} | ${r.documents} | ${millions(r.characters)} | ${millions(r.tokens)}`);
  console.log('\nfile | documents | characters | UTF-8 | tokens | gzipped');
  for (const f of written) console.log(`${f.file} | ${f.documents} | ${millions(f.characters)} | ${(f.bytes / 1e6).toFixed(1)} MB | ${millions(f.tokens)} | ${(f.gzipBytes / 1e6).toFixed(1)} MB`);
  console.log(`total | ${total.documents} | ${millions(total.characters)} | ${(total.bytes / 1e6).toFixed(1)} MB | ${millions(total.tokens)} | ${(total.gzipBytes / 1e6).toFixed(1)} MB\n`);
}
