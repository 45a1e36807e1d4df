// A generation as text, for streaming to a person or a client: after each new id of a Sequence, next()
// returns the text it completes — never half a UTF-8 character (TextStream), never the start of a stop
// string that may still complete (held back until it is decided), and nothing from a stop string on
// (the sequence ends there, as OpenAI's `stop` does).
import { TextStream } from '../tokenizer/text-stream.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { LlamaModel } from '../model/model.js';
import { Decoder, type GenerateOptions, type Sequence } from './sampling.js';

export class TextGeneration {
  /** The text returned so far. */
  text = '';
  private pending = ''; // decoded but held back: it may be the beginning of a stop string
  private readonly stream: TextStream;

  constructor(readonly sequence: Sequence, tokenizer: Tokenizer, readonly stop: readonly string[] = []) {
    this.stream = new TextStream(tokenizer);
    if (stop.some((s) => s === '')) throw new Error('stop: an empty string, expected non-empty stop strings');
  }

  get done(): boolean {
    return this.sequence.done;
  }

  /** For a sequence generated alone (a Decoder): sample one id and return next(). */
  step(): string {
    if (!(this.sequence instanceof Decoder)) throw new Error('TextGeneration.step(): the sequence is stepped by its batch; call next() after each id');
    this.sequence.step();
    return this.next();
  }

  /** After the sequence's newest id: the text that can be shown now ('' while it is held back). */
  next(): string {
    this.pending += this.stream.push(this.sequence.ids.at(-1)!);
    if (this.sequence.done) this.pending += this.stream.end();
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
      this.sequence.finish('stop');
    } else if (this.sequence.done) {
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

/**
 * Stream a continuation of `prompt` (ids) as text: yields each piece as soon as it can be shown, and
 * gives the event loop a turn between tokens. Returns the finished TextGeneration (text, finish reason).
 */
export async function* streamText(model: LlamaModel, tokenizer: Tokenizer, prompt: readonly number[], options: GenerateOptions, stop: readonly string[] = []): AsyncGenerator<string, TextGeneration> {
  const generation = new TextGeneration(new Decoder(model, prompt, options), tokenizer, stop);
  try {
    while (!generation.done) {
      const piece = generation.step();
      if (piece) yield piece;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    generation.sequence.finish('length'); // a consumer that stops early frees the cache
  }
  return generation;
}
