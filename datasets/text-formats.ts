// Plain text out of the formats that the corpus's packages hold: HTML (and GNOME's Mallard pages), man
// pages (roff), reStructuredText, POD, SWORD Bible modules and dictd dictionaries. Pure functions, from a
// file's text or bytes to text: which files to read is the sources' business (shipped-sources.ts,
// large-sources.ts), and cleanText (sources.ts) tidies the whitespace afterwards. Each keeps what a
// reader of the page sees and drops markup, navigation and metadata.
import { gunzipSync, inflateSync } from 'node:zlib';

/** Visible text of an HTML page: block elements become line breaks, entities are decoded. */
export function htmlToText(html: string): string {
  return decodeEntities(
    html
      .replace(/<(script|style|head)[^]*?<\/\1>/gi, '')
      .replace(/<!--[^]*?-->/g, '')
      .replace(/<(br|\/p|\/div|\/h\d|\/li|\/tr|\/pre|\/dt|\/dd|\/title|\/table)\b[^>]*>/gi, '\n')
      .replace(/<[^>]+>/g, ''),
  );
}

/** HTML's character references (&#x4e2d;, &#20013;) and the named entities these pages use, as characters; unknown names stay as they are. */
export function decodeEntities(text: string): string {
  const named: Record<string, string> = { nbsp: ' ', lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", mdash: '—', ndash: '–', hellip: '…', ldquo: '“', rdquo: '”', lsquo: '‘', rsquo: '’', copy: '©' };
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : named[e.toLowerCase()] ?? m,
  );
}

/** The part of a page between the first `start` and the next `end` (or the page's end): its content without the navigation around it; the whole page if `start` is not in it. */
export function between(html: string, start: string, end?: string): string {
  const from = html.indexOf(start);
  if (from < 0) return html;
  const to = end === undefined ? -1 : html.indexOf(end, from);
  return html.slice(from + start.length, to < 0 ? undefined : to);
}

/** Visible text of a Mallard page (GNOME Help), without its <info> (credits, licence, links). */
export function mallardToText(page: string): string {
  return htmlToText(page.replace(/<info\b[^]*?<\/info>/g, ''));
}

/** Readable text of a man page: macro arguments kept, font escapes and comments dropped. */
export function roffToText(roff: string): string {
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

/** Readable text of a man page written by hand or by pod2man: roffToText once the preamble before the first section, the index entries, the requests that carry only a number and pod2man's quote strings are gone. */
export function manToText(roff: string): string {
  const body = roff
    .slice(Math.max(0, roff.search(/^\.SH/m)))
    .replace(/^\.IX\b.*$/gm, '')
    .replace(/^\.[A-Za-z]+(\s+[-+]?[\d.]+[a-z]?)?\s*$/gm, '');
  return roffToText(body)
    .replace(/\\\*\((L"|R"|C`|C')/g, (_, s: string) => (s[1] === '"' ? '"' : ''))
    .replace(/\\\(aq/g, "'")
    .replace(/\\\((dq|lq|rq)/g, '"')
    .replace(/\\\(bu/g, '•')
    .replace(/\\[~ ]/g, ' ')
    .replace(/\\%|\\:/g, '');
}

/** Readable text of reStructuredText: section adornments, licence tags and link targets dropped. */
export function rstToText(rst: string): string {
  return rst
    .split('\n')
    .filter((l) => !/^\s*([=\-~^"'`#*+:.])\1{3,}\s*$/.test(l) && !/^\.\. (_[^:]*:|SPDX-License-Identifier:)/.test(l))
    .join('\n');
}

/** Readable text of a POD document: headings and items keep their text, other commands go, formatting codes become their content. */
export function podToText(pod: string): string {
  let text = pod
    .split('\n')
    .filter((l) => !/^=(pod|cut|over|back|begin|end|for|encoding)\b/.test(l))
    .map((l) => l.replace(/^=(head\d|item)\s*/, ''))
    .join('\n');
  // Codes nest (B<C<…>>): replace the innermost until none is left.
  for (let before = ''; before !== text; ) {
    before = text;
    text = text.replace(/([A-Z])<<+\s+([^]*?)\s+>>+|([A-Z])<([^<>]*)>/g, (_, a: string | undefined, b: string | undefined, c: string, d: string) => podCode(a ?? c, b ?? d));
  }
  return text;
}

/** The text of one POD formatting code: E<> an escape, L<> its link text, X<> and Z<> nothing, the others their content. */
function podCode(code: string, content: string): string {
  if (code === 'E') return { lt: '<', gt: '>', verbar: '|', sol: '/' }[content] ?? (/^\d+$/.test(content) ? String.fromCodePoint(Number(content)) : content);
  if (code === 'L') return content.split('|')[0]!.replace(/"/g, '');
  if (code === 'X' || code === 'Z') return '';
  return content;
}

/**
 * One testament of a SWORD Bible or commentary (zText and zCom modules) from its three files: one
 * document per compressed block (a book or a chapter), its entries one a line, OSIS markup and footnotes
 * dropped. `blockIndex` (<t>.bzs or .czs) holds per block its offset, compressed size and size;
 * `blockData` (.bzz, .czz) the blocks; `entryIndex` (.bzv, .czv) per entry its block, offset and size.
 */
export function swordToText(blockIndex: Buffer, blockData: Buffer, entryIndex: Buffer): string[] {
  const blocks = Array.from({ length: blockIndex.length / 12 }, (_, b) => {
    const offset = blockIndex.readUInt32LE(12 * b);
    return inflateSync(blockData.subarray(offset, offset + blockIndex.readUInt32LE(12 * b + 4)));
  });
  const entries = blocks.map(() => [] as string[]);
  let previous = '';
  for (const e of swordEntries(entryIndex, blocks)) {
    // Linked entries (one comment for several verses) point to the same text: keep it once.
    if (e.size === 0 || `${e.block}:${e.offset}` === previous) continue;
    previous = `${e.block}:${e.offset}`;
    entries[e.block]!.push(blocks[e.block]!.subarray(e.offset, e.offset + e.size).toString('utf8'));
  }
  return entries.map((lines) => htmlToText(lines.join('\n').replace(/<note\b[^]*?<\/note>/g, '')));
}

/** A SWORD entry index: records of 10 bytes (block, offset: uint32; size: uint16) or 12 (size: uint32). Which one a module uses is not reliably in its .conf, so take the width whose records all fall inside the blocks. */
function swordEntries(index: Buffer, blocks: Buffer[]): { block: number; offset: number; size: number }[] {
  for (const width of [10, 12]) {
    if (index.length % width !== 0) continue;
    const entries = Array.from({ length: index.length / width }, (_, i) => ({
      block: index.readUInt32LE(i * width),
      offset: index.readUInt32LE(i * width + 4),
      size: width === 10 ? index.readUInt16LE(i * width + 8) : index.readUInt32LE(i * width + 8),
    }));
    if (entries.every((e) => e.size === 0 || (e.block < blocks.length && e.offset + e.size <= blocks[e.block]!.length))) return entries;
  }
  throw new Error('a SWORD index whose records fit neither 10 nor 12 bytes');
}

/** A dictd dictionary's entries as text, in the order of its .dict.dz (`dictzip`); `index` is its .index. Its own 00-database-* entries (name, licence, URL) are left out. */
export function dictdToText(dictzip: Buffer, index: string): string[] {
  const text = gunzipSync(dictzip); // dictzip is gzip with an index of its chunks
  const entries = new Map<number, number>(); // offset -> length; several headwords may share an entry
  for (const line of index.split('\n')) {
    const [word, offset, length] = line.split('\t');
    if (length !== undefined && !/^00-?database/.test(word!)) entries.set(dictdNumber(offset!), dictdNumber(length));
  }
  return [...entries].sort((a, b) => a[0] - b[0]).map(([offset, length]) => dictdEntryText(text.subarray(offset, offset + length).toString('utf8')));
}

/** Readable text of a dictionary entry: braces of cross-references ({word}) and GCIDE's pronunciations (Abjure \Ab*jure"\) dropped, and the lines that only name the entry's source ([1913 Webster], [WordNet 1.5], [PJC], [{Jargon File}]). */
function dictdEntryText(entry: string): string {
  return entry
    .replace(/^[ \t]*\[[^\]\n]*(Webster|WordNet|PJC|Jargon File|Century|\bAS\b)[^\]\n]*\][ \t]*$/gm, '')
    .replace(/^(\S[^\\\n]*?) \\[^\\\n]+\\/gm, '$1')
    .replace(/[{}]/g, '');
}

/** A number of a dictd index: base 64, most significant digit first. */
function dictdNumber(digits: string): number {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  return [...digits].reduce((n, d) => n * 64 + alphabet.indexOf(d), 0);
}

/** Han characters' share of a text's letters (Han and Latin): low in the pages a translation left in English. */
export function hanShare(text: string): number {
  const han = text.match(/\p{Script=Han}/gu)?.length ?? 0;
  const latin = text.match(/[A-Za-z]/g)?.length ?? 0;
  return han / Math.max(1, han + latin);
}
