// Reading text files as a stream (constant memory, .gz decompressed on the fly), decoding UTF-8
// leniently: invalid bytes become U+FFFD and are counted, so a bad file is reported, never a crash.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';

/** What reading a file found. */
export interface TextFileStats {
  /** Bytes of (decompressed) text. */
  bytes: number;
  /** Invalid UTF-8 sequences, each replaced by U+FFFD. */
  invalid: number;
}

const REPLACEMENT = '\ufffd';

/**
 * Call `onText` with the file's text in pieces that end at line breaks (the last piece may not), and
 * return the byte count and the number of invalid UTF-8 sequences replaced. Files ending in .gz are
 * decompressed. When `onText` returns a promise, reading waits for it (back-pressure).
 */
export async function readTextFile(file: string, onText: (text: string) => unknown): Promise<TextFileStats> {
  if (!existsSync(file)) throw new Error(`${file}: no such file, expected a text file`);
  if (statSync(file).isDirectory()) throw new Error(`${file}: is a directory, expected a text file`);
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const stream = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  // Invalid input shows up as U+FFFD from the lenient decoder; a strict decoder run beside it would
  // cost twice, so instead we subtract the U+FFFD characters the file really contains (bytes EF BF BD).
  const lenient = new TextDecoder('utf-8', { fatal: false });
  let bytes = 0, replaced = 0, literal = 0, carry = '';
  let previous = Buffer.alloc(0); // the last two bytes of the previous block, for EF BF BD across blocks
  try {
    for await (const block of stream as AsyncIterable<Buffer>) {
      bytes += block.length;
      const joined = Buffer.concat([previous, block]);
      for (let i = joined.indexOf(REPLACEMENT_UTF8); i >= 0; i = joined.indexOf(REPLACEMENT_UTF8, i + 1)) {
        if (i + 3 > previous.length) literal++;
      }
      previous = joined.subarray(Math.max(0, joined.length - 2));
      const text = carry + lenient.decode(block, { stream: true });
      replaced += countOf(text, REPLACEMENT) - countOf(carry, REPLACEMENT);
      const cut = text.lastIndexOf('\n') + 1;
      if (cut > 0) await onText(text.slice(0, cut));
      carry = text.slice(cut);
    }
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as Error).message})`);
  }
  const rest = carry + lenient.decode();
  replaced += countOf(rest, REPLACEMENT) - countOf(carry, REPLACEMENT);
  if (rest.length > 0) await onText(rest);
  return { bytes, invalid: replaced - literal };
}

const REPLACEMENT_UTF8 = Buffer.from(REPLACEMENT, 'utf8');

function countOf(text: string, char: string): number {
  let n = 0;
  for (let i = text.indexOf(char); i >= 0; i = text.indexOf(char, i + 1)) n++;
  return n;
}
