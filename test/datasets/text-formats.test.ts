// datasets/text-formats.ts: each format's markup goes and its text stays, on small made-up files (the
// corpus builds check the real packages byte for byte).
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { between, decodeEntities, dictdToText, hanShare, htmlToText, mallardToText, manToText, podToText, roffToText, rstToText, swordToText } from '../../datasets/text-formats.js';

describe('text-formats', () => {
  it('htmlToText drops head, scripts and comments, breaks lines at blocks and decodes entities', () => {
    const html = '<html><head><title>T</title></head><body><h1>标题</h1><p>a &amp; b &#x4e2d;&#25991; &unknown;</p><!-- note --><script>x()</script>c<br>d</body></html>';
    expect(htmlToText(html)).toBe('标题\na & b 中文 &unknown;\nc\nd');
    expect(decodeEntities('&lt;&NBSP;&hellip;&#X41;')).toBe('< …A');
  });

  it('between keeps the content between two markers, or the whole page', () => {
    expect(between('<nav>n</nav><main>m</main><footer>f', '<main>', '</main>')).toBe('m');
    expect(between('<nav>n</nav><main>m', '<main>', '</main>')).toBe('m');
    expect(between('<p>x</p>', '<main>')).toBe('<p>x</p>');
  });

  it("mallardToText drops a page's <info>", () => {
    expect(mallardToText('<page><info><credit>Someone</credit></info><title>Hi</title><p>Text</p></page>')).toBe('Hi\nText\n');
  });

  it('roffToText keeps macro arguments and drops comments and font escapes', () => {
    expect(roffToText('.\\" a comment\n.TH LS 1\n.SH "NAME"\nls \\- list \\fBfiles\\fR\n')).toBe('LS 1\nNAME\nls - list files\n');
  });

  it("manToText drops the preamble, index entries, bare requests and pod2man's quote strings", () => {
    const roff = '.\\" preamble\n.de Sp\n..\n.SH NAME\n.IX Header "NAME"\nfoo \\- bar\n.PP\n.sp 1\nSays \\*(L"hi\\*(R" and \\(aqok\\(aq \\(bu x\\ y\n';
    expect(manToText(roff)).toBe('NAME\n\nfoo - bar\n\n\nSays "hi" and \'ok\' • x y\n');
  });

  it('rstToText drops section adornments, licence tags and link targets', () => {
    expect(rstToText('.. SPDX-License-Identifier: GPL-2.0\n=====\nTitle\n=====\nText.\n.. _target:\nMore ----\n')).toBe('Title\nText.\nMore ----\n');
  });

  it('podToText keeps headings and the content of nested formatting codes', () => {
    const pod = '=pod\n\n=head1 NAME\n\nB<C<perl>> E<lt>L<the manual|perlintro>E<gt> X<index>C<< $a->b >>\n\n=cut\n';
    expect(podToText(pod)).toBe('\nNAME\n\nperl <the manual> $a->b\n\n');
  });

  it('swordToText gives one document per block, linked entries once, footnotes dropped', () => {
    const texts = [['In the beginning<note>a footnote</note>', 'And the earth'], ['Jesus wept.']];
    const blocks = texts.map((entries) => Buffer.from(entries.join('')));
    const compressed = blocks.map((b) => deflateSync(b));
    const blockIndex = Buffer.alloc(12 * blocks.length);
    compressed.forEach((c, b) => {
      blockIndex.writeUInt32LE(compressed.slice(0, b).reduce((n, d) => n + d.length, 0), 12 * b);
      blockIndex.writeUInt32LE(c.length, 12 * b + 4);
      blockIndex.writeUInt32LE(blocks[b]!.length, 12 * b + 8);
    });
    // Entries of 10 bytes (block, offset, size): the second links to the first's text, the fourth is empty.
    const first = Buffer.byteLength(texts[0]![0]!);
    const records = [[0, 0, first], [0, 0, first], [0, first, Buffer.byteLength(texts[0]![1]!)], [1, 0, 0], [1, 0, blocks[1]!.length]];
    const entryIndex = Buffer.alloc(10 * records.length);
    records.forEach(([block, offset, size], i) => {
      entryIndex.writeUInt32LE(block!, 10 * i);
      entryIndex.writeUInt32LE(offset!, 10 * i + 4);
      entryIndex.writeUInt16LE(size!, 10 * i + 8);
    });
    expect(swordToText(blockIndex, Buffer.concat(compressed), entryIndex)).toEqual(['In the beginning\nAnd the earth', 'Jesus wept.']);
  });

  it("dictdToText gives the entries in the text's order, each once, without the database's own entries and source lines", () => {
    // The database's entry is longer than 64 characters, so that the later offsets take two digits.
    const entries = ['00-database-info\n This made-up dictionary tests dictdToText; its entries are not real ones.\n', 'see\n  Look at {abjure}.\n', 'Abjure \\Ab*jure"\\, v. t. To renounce.\n    [1913 Webster]\n'];
    const offsets = entries.map((_, i) => entries.slice(0, i).reduce((n, e) => n + e.length, 0));
    const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const base64 = (n: number): string => (n >= 64 ? base64(Math.floor(n / 64)) : '') + digits[n % 64]!;
    const line = (word: string, i: number) => `${word}\t${base64(offsets[i]!)}\t${base64(entries[i]!.length)}`;
    // Sorted by headword, as a .index is; forswear shares abjure's entry.
    const index = [line('00-database-info', 0), line('abjure', 2), line('forswear', 2), line('see', 1)].join('\n') + '\n';
    expect(dictdToText(gzipSync(entries.join('')), index)).toEqual(['see\n  Look at abjure.\n', 'Abjure, v. t. To renounce.\n\n']);
  });

  it("hanShare is the Han characters' share of Han and Latin letters", () => {
    expect(hanShare('中文 ab, 12')).toBe(0.5);
    expect(hanShare('')).toBe(0);
  });
});
