// Ids to text as they arrive, for streaming output. A byte-level BPE token can end in the middle of a
// character ('，疑' is ef bc 8c e7 96 + 91 in our tokenizer), so the bytes of an unfinished character
// wait for the next token; special tokens such as <|endoftext|> are not text and are left out.
import type { Tokenizer } from './tokenizer.js';

/** Turns a stream of ids into text, one complete UTF-8 character at a time; special tokens are not printed. */
export class TextStream {
  // stream: true makes the decoder keep the bytes of an unfinished character until the rest arrives.
  // ignoreBOM: a U+FEFF at the start is text, as in Tokenizer.decode.
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  constructor(private readonly tokenizer: Tokenizer) {}

  /** Feed the next id(s); returns the text they complete ('' while a character is unfinished). */
  push(ids: number | readonly number[]): string {
    const bytes = this.tokenizer.decodeBytes(typeof ids === 'number' ? [ids] : ids, { skipSpecial: true });
    return this.decoder.decode(bytes, { stream: true });
  }

  /** The end of the stream: what is left, dropping an unfinished character; the stream can then start again. */
  end(): string {
    // The decoder only ever holds a valid but unfinished character, which it would flush as one U+FFFD.
    const rest = this.decoder.decode();
    return rest.endsWith('\uFFFD') ? rest.slice(0, -1) : rest;
  }
}
