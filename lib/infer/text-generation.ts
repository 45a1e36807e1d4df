// A generation as text, for streaming to a person or a client: each step samples one token and returns
// the text it completes — never half a UTF-8 character (TextStream), never the start of a stop string
// that may still complete (held back until it is decided), and nothing from a stop string on (the
// sequence ends there, as OpenAI's `stop` does).
import { TextStream } from '../tokenizer/text-stream.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { Decoder } from './sampling.js';

export class TextGeneration {
  /** The text returned so far. */
  text = '';
  private pending = ''; // decoded but held back: it may be the beginning of a stop string
  private readonly stream: TextStream;

  constructor(readonly decoder: Decoder, tokenizer: Tokenizer, readonly stop: readonly string[] = []) {
    this.stream = new TextStream(tokenizer);
    if (stop.some((s) => s === '')) throw new Error('stop: an empty string, expected non-empty stop strings');
  }

  get done(): boolean {
    return this.decoder.done;
  }

  /** Sample one token; returns the text that can be shown now ('' while it is held back). */
  step(): string {
    this.decoder.step();
    this.pending += this.stream.push(this.decoder.ids.at(-1)!);
    if (this.decoder.done) this.pending += this.stream.end();
    // The earliest complete stop string ends the text where it starts.
    let cut = -1;
    for (const s of this.stop) {
      const at = this.pending.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    let out: string;
    if (cut >= 0) {
      out = this.pending.slice(0, cut);
      this.pending = '';
      this.decoder.finish('stop');
    } else if (this.decoder.done) {
      out = this.pending;
      this.pending = '';
    } else {
      const held = this.heldBack();
      out = this.pending.slice(0, this.pending.length - held);
      this.pending = this.pending.slice(this.pending.length - held);
    }
    this.text += out;
    return out;
  }

  /** The length of the longest end of `pending` that some stop string begins with. */
  private heldBack(): number {
    let longest = 0;
    for (const s of this.stop) {
      for (let n = Math.min(s.length - 1, this.pending.length); n > longest; n--) {
        if (this.pending.endsWith(s.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
