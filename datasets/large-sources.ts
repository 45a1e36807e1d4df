// The large corpus's sources (README.md, "A larger corpus"): the shipped corpus's (shipped-sources.ts), all
// of chinese-poetry and some fifty more packages, each with the package it comes from, its licence as the
// package states it, the kind of text it is (which part files it goes to) and how its files become
// documents. Nothing is read until a source's documents are asked for.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DEBIAN, libreofficeHelp, manPages, mobyDick, NPM, poems, stateOfTheUnion, toSimplified } from './shipped-sources.js';
import { files, type Folders } from './sources.js';
import { between, dictdToText, htmlToText, mallardToText, manToText, podToText, rstToText, swordToText } from './text-formats.js';

const DICT_DOCUMENT = 8000; // characters: a dictionary's entries are grouped into documents of about this size
const GPL2_PLUS = 'GPL-2+';

/** What a part of the large corpus holds; each kind has its own files. */
export type Kind = 'zh-modern' | 'zh-classical' | 'en-books' | 'en-docs' | 'en-dict';

/** One source of the large corpus: the package it comes from, its licence as the package states it, and its documents. */
export interface LargeSource {
  name: string;
  /** A Debian package, or a key of NPM. */
  pkg: string;
  licence: string;
  kind: Kind;
  documents: (at: Folders) => string[];
}

/** Every source of the large corpus, in the order de-duplication sees them: the shipped corpus's first. */
export const LARGE_SOURCES: readonly LargeSource[] = [
  { name: 'Debian Reference (zh-CN)', pkg: 'debian-reference-zh-cn', licence: GPL2_PLUS, kind: 'zh-modern', documents: (at) => htmlPages(join(at.root, 'usr/share/debian-reference'), /\.zh-cn\.html$/) },
  { name: 'Debian FAQ (zh-CN)', pkg: 'debian-faq-zh-cn', licence: 'permissive (notice in README.md)', kind: 'zh-modern', documents: (at) => htmlPages(join(at.root, 'usr/share/doc/debian/FAQ/zh-cn'), /\.html$/) },
  { name: 'Debian New Maintainers\' Guide (zh-CN)', pkg: 'maint-guide-zh-cn', licence: GPL2_PLUS, kind: 'zh-modern', documents: (at) => htmlPages(doc(at, 'maint-guide-zh-cn/html'), /\.html$/) },
  { name: 'The Debian Administrator\'s Handbook (zh-CN)', pkg: 'debian-handbook', licence: 'GPL-2+ or CC-BY-SA-3.0', kind: 'zh-modern', documents: (at) => htmlPages(join(at.root, 'usr/share/doc/debian-handbook/html/zh-CN'), /\.html$/) },
  { name: 'LibreOffice help (zh-CN)', pkg: 'libreoffice-help-zh-cn', licence: 'MPL-2.0', kind: 'zh-modern', documents: (at) => libreofficePages(at, 'zh-CN') },
  { name: 'Chinese man pages (and fortune-zh(6) of fortunes-zh, GPL-3+)', pkg: 'manpages-zh', licence: 'GFDL-1.2+', kind: 'zh-modern', documents: manPages },
  // Translated in Taiwan, converted to Simplified. The zh-TW Debian Reference, New Maintainers' Guide, Guide
  // for Debian Maintainers and kernel documents are left out: they are the zh-CN ones converted (90–99% the
  // same once converted back), duplicates that exact de-duplication cannot see.
  { name: 'The Debian Administrator\'s Handbook (zh-TW)', pkg: 'debian-handbook', licence: 'GPL-2+ or CC-BY-SA-3.0', kind: 'zh-modern', documents: (at) => taiwanese(at, htmlPages(join(at.root, 'usr/share/doc/debian-handbook/html/zh-TW'), /\.html$/)) },
  { name: 'LibreOffice help (zh-TW)', pkg: 'libreoffice-help-zh-tw', licence: 'MPL-2.0', kind: 'zh-modern', documents: (at) => taiwanese(at, libreofficePages(at, 'zh-TW')) },
  { name: 'Linux kernel documentation (zh_CN)', pkg: 'linux-doc-6.1', licence: 'GPL-2', kind: 'zh-modern', documents: (at) => kernelDocs(at, 'translations/zh_CN') },
  { name: 'Debian Installation Guide (zh_CN)', pkg: 'installation-guide-amd64', licence: 'GPL-2', kind: 'zh-modern', documents: (at) => htmlPages(doc(at, 'installation-guide-amd64/zh_CN'), /\.html$/) },
  { name: 'Debian Edu manuals (zh-CN)', pkg: 'debian-edu-doc-zh-cn', licence: 'GPL-2+', kind: 'zh-modern', documents: (at) => htmlPages(doc(at, 'debian-edu-doc-zh-cn'), /bookworm-manual\.html$/) },
  { name: 'Debian Edu legacy manuals (zh-CN)', pkg: 'debian-edu-doc-legacy-zh-cn', licence: 'GPL-2+', kind: 'zh-modern', documents: (at) => htmlPages(doc(at, 'debian-edu-doc-legacy-zh-cn'), /\.html$/) },
  { name: 'Guide for Debian Maintainers (zh-CN)', pkg: 'debmake-doc', licence: 'Expat', kind: 'zh-modern', documents: (at) => htmlPages(doc(at, 'debmake-doc/html'), /\.zh-cn\.html$/) },
  { name: 'chinese-poetry: all poems, ci, qu, Classics, primers and poets\' biographies', pkg: 'poetry', licence: 'MIT (© 2016 JackeyGao); the texts are public domain', kind: 'zh-classical', documents: allPoetry },
  { name: 'Moby-Dick', pkg: 'mobyDick', licence: 'text public domain; package Apache-2.0', kind: 'en-books', documents: mobyDick },
  { name: 'State of the Union addresses 1790–2021', pkg: 'sotu', licence: 'public domain (U.S. government works); package Apache-2.0', kind: 'en-books', documents: stateOfTheUnion },
  { name: 'King James Version (with Strong\'s numbers)', pkg: 'sword-text-kjv', licence: 'public domain', kind: 'en-books', documents: (at) => sword(at, 'texts/ztext/engKJV2006eb') },
  { name: 'World English Bible', pkg: 'sword-text-web', licence: 'public domain', kind: 'en-books', documents: (at) => sword(at, 'texts/ztext/engWEB2015eb') },
  { name: 'Matthew Henry\'s Concise Commentary', pkg: 'sword-comm-mhcc', licence: 'public domain', kind: 'en-books', documents: (at) => sword(at, 'comments/zcom/mhcc') },
  { name: 'Scofield Reference Notes (1917)', pkg: 'sword-comm-scofield', licence: 'public domain', kind: 'en-books', documents: (at) => sword(at, 'comments/zcom/scofield') },
  { name: 'C. H. Spurgeon\'s Treasury of David', pkg: 'sword-comm-tdavid', licence: 'public domain', kind: 'en-books', documents: (at) => sword(at, 'comments/zcom/tdavid') },
  { name: 'The Devil\'s Dictionary (Ambrose Bierce)', pkg: 'dict-devil', licence: 'public domain', kind: 'en-dict', documents: (at) => dictionary(at, 'devil') },
  { name: 'The Jargon File', pkg: 'dict-jargon', licence: 'public domain', kind: 'en-dict', documents: (at) => dictionary(at, 'jargon') },
  { name: 'Free On-line Dictionary of Computing', pkg: 'dict-foldoc', licence: 'GFDL-1.1+ (no invariant sections)', kind: 'en-dict', documents: (at) => dictionary(at, 'foldoc') },
  { name: 'Collaborative International Dictionary of English (Webster 1913 + WordNet)', pkg: 'dict-gcide', licence: 'GPL-2+', kind: 'en-dict', documents: (at) => dictionary(at, 'gcide') },
  { name: 'Debian Reference (en)', pkg: 'debian-reference-en', licence: GPL2_PLUS, kind: 'en-docs', documents: (at) => htmlPages(join(at.root, 'usr/share/debian-reference'), /\.en\.html$/) },
  { name: 'Debian FAQ (en)', pkg: 'debian-faq', licence: 'permissive (notice in README.md)', kind: 'en-docs', documents: (at) => htmlPages(join(at.root, 'usr/share/doc/debian/FAQ'), /^[^/]*\.html$/) },
  { name: 'Debian New Maintainers\' Guide (en)', pkg: 'maint-guide', licence: GPL2_PLUS, kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'maint-guide/html'), /\.en\.html$/) },
  { name: 'Debian Policy Manual', pkg: 'debian-policy', licence: GPL2_PLUS, kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'debian-policy/policy.html'), /^[^/]*\.html$/) },
  { name: 'Debian Developer\'s Reference', pkg: 'developers-reference', licence: 'GPL-2', kind: 'en-docs', documents: (at) => htmlPages(join(at.root, 'usr/share/developers-reference'), /^[^/]*\.html$/) },
  { name: 'The Debian Administrator\'s Handbook (en-US)', pkg: 'debian-handbook', licence: 'GPL-2+ or CC-BY-SA-3.0', kind: 'en-docs', documents: (at) => htmlPages(join(at.root, 'usr/share/doc/debian-handbook/html/en-US'), /\.html$/) },
  { name: 'A Brief History of Debian', pkg: 'debian-history', licence: GPL2_PLUS, kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'debian-history/docs'), /\.en\.html$/) },
  { name: 'Guide for Debian Maintainers (en)', pkg: 'debmake-doc', licence: 'Expat', kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'debmake-doc/html'), /\.en\.html$/) },
  { name: 'Securing Debian Manual (en-US)', pkg: 'harden-doc', licence: 'GPL-2', kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'harden-doc/html/en-US'), /\.html$/) },
  { name: 'Debian Installation Guide (en)', pkg: 'installation-guide-amd64', licence: 'GPL-2', kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'installation-guide-amd64/en'), /\.html$/) },
  { name: 'Debian Edu manual (en)', pkg: 'debian-edu-doc-en', licence: 'GPL-2+', kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'debian-edu-doc-en'), /bookworm-manual\.html$/) },
  { name: 'LibreOffice help (en-US)', pkg: 'libreoffice-help-en-us', licence: 'MPL-2.0', kind: 'en-docs', documents: (at) => libreofficePages(at, 'en-US') },
  { name: 'GNOME Help (C)', pkg: 'gnome-user-docs', licence: 'CC-BY-SA-3.0', kind: 'en-docs', documents: gnomeHelp },
  { name: 'Linux man pages (sections 1–8)', pkg: 'manpages', licence: 'various free licences (GPL, BSD, Linux-man-pages-copyleft; see its copyright file)', kind: 'en-docs', documents: (at) => englishManPages(at, 'manpages') },
  { name: 'Linux man pages (sections 2, 3: programming)', pkg: 'manpages-dev', licence: 'as manpages', kind: 'en-docs', documents: (at) => englishManPages(at, 'manpages-dev') },
  { name: 'Linux kernel documentation', pkg: 'linux-doc-6.1', licence: 'GPL-2', kind: 'en-docs', documents: (at) => kernelDocs(at, '') },
  { name: 'Python 3.11 documentation', pkg: 'python3.11-doc', licence: 'PSF-2.0', kind: 'en-docs', documents: pythonDocs },
  { name: 'Perl 5.36 documentation', pkg: 'perl-doc', licence: 'GPL-1+ or Artistic', kind: 'en-docs', documents: perlDocs },
  { name: 'PostgreSQL 15 documentation', pkg: 'postgresql-doc-15', licence: 'PostgreSQL', kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'postgresql-doc-15/html'), /\.html$/) },
  { name: 'Erlang/OTP 25 documentation', pkg: 'erlang-doc', licence: 'Apache-2.0', kind: 'en-docs', documents: erlangDocs },
  { name: 'Rust books (The Rust Programming Language, Reference, Rustonomicon, Rust by Example, …)', pkg: 'rust-doc', licence: 'MIT or Apache-2.0', kind: 'en-docs', documents: rustBooks },
  { name: 'Django 3.2 documentation', pkg: 'python-django-doc', licence: 'BSD-3-Clause', kind: 'en-docs', documents: djangoDocs },
  { name: 'Git documentation', pkg: 'git-doc', licence: 'GPL-2', kind: 'en-docs', documents: (at) => files(doc(at, 'git-doc'), /\.txt$/).map(read) },
  { name: 'Vim help', pkg: 'vim-runtime', licence: 'OPL-1+ (no options exercised)', kind: 'en-docs', documents: (at) => files(join(at.root, 'usr/share/vim/vim90/doc'), /\.txt$/).map(read) },
  { name: 'LilyPond manuals', pkg: 'lilypond-doc-html', licence: 'GFDL-1.3+ (no invariant sections)', kind: 'en-docs', documents: lilypondManuals },
  { name: 'GNU Octave manual', pkg: 'octave-doc', licence: 'GPL-3+', kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'octave/octave.html'), /\.html$/) },
  { name: 'R manuals', pkg: 'r-doc-html', licence: 'permissive (notice in the manuals, as the Debian FAQ\'s)', kind: 'en-docs', documents: (at) => htmlPages(join(at.root, 'usr/share/R/doc/manual'), /\.html$/) },
  { name: 'Zsh manual', pkg: 'zsh-doc', licence: 'permissive (notice in the manual, as the Debian FAQ\'s)', kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'zsh-common/html'), /\.html$/) },
  { name: 'Bash Reference Manual', pkg: 'bash-doc', licence: 'GFDL-1.3+ (no invariant sections)', kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'bash'), /^bashref\.html$/) },
  { name: 'Apache HTTP Server 2.4 documentation (en)', pkg: 'apache2-doc', licence: 'Apache-2.0', kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'apache2-doc/manual/en'), /\.html$/) },
  { name: 'The Go Programming Language Specification, memory model, assembler guide', pkg: 'golang-1.19-doc', licence: 'BSD-3-Clause', kind: 'en-docs', documents: (at) => htmlPages(doc(at, 'golang-1.19-doc/html'), /^(?!go1\.17_spec)[^/]*\.html$/) },
];

/** The Debian packages that the sources read, each once: the shipped corpus's among them. */
export function largeDebianPackages(): string[] {
  return [...new Set([...DEBIAN, ...LARGE_SOURCES.map((s) => s.pkg).filter((p) => !(p in NPM))])];
}

/** "npm <spec>" or "Debian <package> <version>", the version read from the downloaded .deb's name. */
export function packageOf(at: Folders, pkg: string): string {
  if (pkg in NPM) return `npm ${NPM[pkg as keyof typeof NPM]}`;
  return `Debian ${pkg} ${decodeURIComponent(debFile(at, pkg).split('_')[1]!)}`;
}

/** The downloaded .deb of a Debian package. */
function debFile(at: Folders, pkg: string): string {
  const deb = readdirSync(at.sources).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (deb === undefined) throw new Error(`${pkg}: no .deb in ${at.sources}`);
  return join(at.sources, deb);
}

/** The regular files of a Debian package (as its .deb lists them) whose path matches, under root, sorted: for folders that several packages fill. */
function debFiles(at: Folders, pkg: string, pattern: RegExp): string[] {
  const listing = execFileSync('dpkg-deb', ['--contents', debFile(at, pkg)], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const paths = listing.split('\n').filter((l) => l.startsWith('-')).map((l) => l.slice(l.indexOf(' ./') + 3));
  return paths.filter((p) => pattern.test(p)).sort().map((p) => join(at.root, p));
}

/** A package's folder under usr/share/doc. */
function doc(at: Folders, path: string): string {
  return join(at.root, 'usr/share/doc', path);
}

/** A file's text; .gz files are gunzipped. */
function read(file: string): string {
  const bytes = readFileSync(file);
  return (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
}

/** The text of every HTML page under dir whose path matches, less the pages that only redirect to another; `content` picks the part of a page to keep. */
function htmlPages(dir: string, pattern: RegExp, content = (html: string) => html): string[] {
  const pages = files(dir, pattern).map((f) => readFileSync(f, 'utf8'));
  return pages.filter((html) => !/<meta http-equiv="refresh"/i.test(html)).map((html) => htmlToText(content(html)));
}

/** LibreOffice's help pages without what the shipped corpus keeps of their footer (debug information) and the notes on texts the translation lacks. */
function libreofficePages(at: Folders, language: string): string[] {
  return libreofficeHelp(at, language).map((t) => t.replace(/Help content debug info:[^]*$/, '').replace(/^D'oh! You found a bug.*$/gm, ''));
}

/** Taiwan's Traditional-script documents in Simplified script, with Mainland wording (軟體 → 软件). */
function taiwanese(at: Folders, documents: string[]): string[] {
  return toSimplified(at, documents, 'tw2sp.json');
}

/** All of chinese-poetry's texts: every Tang and Song shi, the ci, qu, Classics and primers, and the poets' biographies; quantangshi's files (Traditional script) converted with t2s. */
function allPoetry(at: Folders): string[] {
  const dist = join(at.root, 'poetry/package/dist');
  const simplified = ['songci', 'yuanqu', 'shijing', 'chuci', 'lunyu', 'sishuwujing', 'wudaishici', 'nalanxingde', 'caocaoshiji', 'youmengying', 'mengxue', 'shuimotangshi'];
  const texts = (f: string) => (/author/.test(f) ? biographies(f) : poems(f));
  const docs = simplified.flatMap((dir) => files(join(dist, dir), /\.json$/).flatMap(texts));
  // Left out: quantangshi/error (copies of poems with errors), 表面结构字 (a character list), yudingquantangshi
  // (another edition of the Tang poems, whose variant characters make near-duplicates), strains and rank (tone patterns, popularity).
  const traditional = files(join(dist, 'quantangshi'), /^[^/]*\.json$/).filter((f) => !f.endsWith('表面结构字.json')).flatMap(texts);
  return [...docs, ...toSimplified(at, traditional, 't2s.json')];
}

/** The poets' biographies of a chinese-poetry authors file, one document each: the name, then the biography. */
function biographies(file: string): string[] {
  const entries = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>[];
  return entries.map((e) => [e.name, e.desc ?? e.description].filter((v) => typeof v === 'string').join('\n'));
}

/** The kernel's reStructuredText and text documents under Documentation/<under>; for English (under = '') without translations/. */
function kernelDocs(at: Folders, under: string): string[] {
  const paths = files(join(at.root, 'usr/share/doc/linux-doc-6.1/Documentation', under), /\.(rst|txt)(\.gz)?$/);
  return paths.filter((f) => under !== '' || !f.includes('/Documentation/translations/')).map((f) => rstToText(read(f)));
}

/** Python's documentation from the reStructuredText sources that the HTML pages were made from. */
function pythonDocs(at: Folders): string[] {
  return files(join(at.root, 'usr/share/doc/python3.11/html/_sources'), /\.txt$/).map((f) => rstToText(read(f)));
}

/** Perl's documentation: its manuals (POD) and the man pages of its core modules (the perl*.1 man pages repeat the manuals). */
function perlDocs(at: Folders): string[] {
  return [...debFiles(at, 'perl-doc', /\.pod$/).map((f) => podToText(read(f))), ...englishManPages(at, 'perl-doc', '3')];
}

/** The English man pages of a Debian package (section: a regular expression), as text; pages that only point to another (.so) left out. */
function englishManPages(at: Folders, pkg: string, section = '[^/]+'): string[] {
  const pages = debFiles(at, pkg, new RegExp(`^usr/share/man/man${section}/[^/]+\\.gz$`)).map(read);
  return pages.filter((roff) => !roff.startsWith('.so ')).map(manToText);
}

/** GNOME Help's Mallard pages in English (C). */
function gnomeHelp(at: Folders): string[] {
  return files(join(at.root, 'usr/share/help/C'), /\.page$/).map((f) => mallardToText(readFileSync(f, 'utf8')));
}

/** Erlang/OTP's guides and reference pages, without the navigation column that fills half of every page; the Java API pages left out. */
function erlangDocs(at: Folders): string[] {
  const pages = files(doc(at, 'erlang-doc'), /\.html$/).filter((f) => !f.includes('/java/'));
  return pages.map((f) => htmlToText(between(readFileSync(f, 'utf8'), '<div id="content">')));
}

/** The Rust books (mdBook pages, each page's <main>; print.html repeats a whole book), less the pages left where the book's older editions were, which only say so. The API pages of std and core are left out: mostly signatures. */
function rustBooks(at: Folders): string[] {
  const books = ['book', 'reference', 'nomicon', 'rust-by-example', 'edition-guide', 'embedded-book', 'rustc', 'rustdoc'];
  const html = doc(at, 'rust-doc/html');
  const pages = books.flatMap((b) => files(join(html, b), /\.html$/).filter((f) => !/\/(print|toc|404)\.html$/.test(f)));
  return pages.map((f) => htmlToText(between(readFileSync(f, 'utf8'), '<main>', '</main>'))).filter((t) => !t.includes("is no longer distributed with Rust's documentation"));
}

/** Django's documentation pages without the navigation, the index and search pages and the highlighted source (_modules). */
function djangoDocs(at: Folders): string[] {
  const pages = /^(?!_modules\/|genindex|py-modindex|search)[^]*\.html$/;
  return htmlPages(doc(at, 'python-django-doc/html'), pages, (h) => between(h, '<div id="yui-main">', '<div class="yui-b" id="sidebar">'));
}

/** LilyPond's manuals: Learning, Notation, Usage, Extending, Contributor's Guide, Essay, Changes and the web pages. The generated Internals Reference, the snippets and the multilingual glossary are left out. */
function lilypondManuals(at: Folders): string[] {
  const manuals = ['learning', 'notation', 'usage', 'extending', 'contributor', 'essay', 'changes', 'web'];
  const dir = doc(at, 'lilypond/html/Documentation');
  const main = (h: string) => between(h, '<div id="main">', '<div id="footer">').replace(/<table class="nav_table">[^]*?<\/table>/g, '');
  return manuals.flatMap((m) => htmlPages(join(dir, m), /\.html$/, main));
}

/** A SWORD Bible or commentary (zText and zCom modules): the Old Testament's documents, then the New's (swordToText). */
function sword(at: Folders, module: string): string[] {
  const dir = join(at.root, 'usr/share/sword/modules', module);
  return ['ot', 'nt'].flatMap((testament) => {
    // ot.bzs, ot.bzz, ot.bzv for a module stored by book; czs, czz, czv by chapter.
    const base = join(dir, readdirSync(dir).find((f) => f.startsWith(`${testament}.`) && f.endsWith('zs'))!.slice(0, -1));
    return swordToText(readFileSync(`${base}s`), readFileSync(`${base}z`), readFileSync(`${base}v`));
  });
}

/** A dictd dictionary's entries, in the order of its text, grouped into documents of about DICT_DOCUMENT characters. */
function dictionary(at: Folders, name: string): string[] {
  const dir = join(at.root, 'usr/share/dictd');
  const documents: string[] = [];
  let current = '';
  for (const entry of dictdToText(readFileSync(join(dir, `${name}.dict.dz`)), readFileSync(join(dir, `${name}.index`), 'utf8'))) {
    current += entry + '\n';
    if (current.length >= DICT_DOCUMENT) {
      documents.push(current);
      current = '';
    }
  }
  return [...documents, current];
}
