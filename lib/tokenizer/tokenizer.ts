// The tokenizer: text -> ids and back. Special tokens are cut out first, each remaining segment is
// normalized (if the file asks for it) and pre-tokenized into pieces, and BPE encodes each piece.
import { BpeModel } from './bpe.js';
import { applyChatTemplate, type ChatMessage, type ChatOptions, type ChatEncoding } from './chat.js';
import { type PreTokenizer } from './pretokenize.js';
import { SpecialMatcher, type SpecialToken } from './special.js';

const UTF8 = new TextEncoder();

/** How encode() treats special-token text such as "<|im_end|>" found in its input. */
export interface EncodeOptions {
  /** 'allow' (default, as Hugging Face does): it becomes the special id. 'plain': it is ordinary text. */
  specials?: 'allow' | 'plain';
}

/** Everything a Tokenizer is made of; `json` keeps the tokenizer.json parts we pass through on save. */
export interface TokenizerParts {
  model: BpeModel;
  specials: SpecialToken[];
  preTokenizer: PreTokenizer;
  normalizer: ((text: string) => string) | null;
  json: { normalizer: unknown; pre_tokenizer: unknown };
}

/** A byte-level BPE tokenizer with special tokens and the ChatML chat template. */
export class Tokenizer {
  readonly model: BpeModel;
  readonly specials: readonly SpecialToken[];
  readonly json: TokenizerParts['json'];
  private readonly preTokenizer: PreTokenizer;
  private readonly normalizer: ((text: string) => string) | null;
  private readonly matcher: SpecialMatcher;
  private readonly specialById = new Map<number, SpecialToken>();
  private readonly specialByContent = new Map<string, number>();
  // ignoreBOM: a U+FEFF at the start is text the caller encoded, not a byte-order mark to drop.
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  constructor(parts: TokenizerParts) {
    this.model = parts.model;
    this.specials = parts.specials;
    this.json = parts.json;
    this.preTokenizer = parts.preTokenizer;
    this.normalizer = parts.normalizer;
    this.matcher = new SpecialMatcher(parts.specials);
    for (const s of parts.specials) {
      this.specialById.set(s.id, s);
      this.specialByContent.set(s.content, s.id);
    }
  }

  /** Number of ids: every id is in [0, vocabSize). */
  get vocabSize(): number {
    return this.specials.reduce((size, s) => Math.max(size, s.id + 1), this.model.size);
  }

  /** Text to ids. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = [];
    const segments = options.specials === 'plain' ? [text] : this.matcher.split(text);
    for (const segment of segments) {
      if (typeof segment === 'number') {
        out.push(segment);
        continue;
      }
      const normalized = this.normalizer ? this.normalizer(segment) : segment;
      for (const piece of this.preTokenizer(normalized)) this.model.encodePiece(piece, out);
    }
    return out;
  }

  /** Ids to text. Bytes that do not form valid UTF-8 (a cut-off character) become U+FFFD. */
  decode(ids: readonly number[], options: { skipSpecial?: boolean } = {}): string {
    return this.decoder.decode(this.decodeBytes(ids, options));
  }

  /** Ids to the UTF-8 bytes they stand for (what streaming output needs: characters can span tokens). */
  decodeBytes(ids: readonly number[], options: { skipSpecial?: boolean } = {}): Uint8Array {
    const parts: Uint8Array[] = [];
    let length = 0;
    for (const id of ids) {
      const special = this.specialById.get(id);
      if (special && options.skipSpecial) continue;
      const bytes = special ? UTF8.encode(special.content) : this.model.tokenBytes(id);
      parts.push(bytes);
      length += bytes.length;
    }
    const out = new Uint8Array(length);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** The id of a special token, e.g. specialId('<|im_end|>'); throws if this tokenizer lacks it. */
  specialId(content: string): number {
    const id = this.specialByContent.get(content);
    if (id === undefined) throw new Error(`tokenizer: no special token '${content}', expected one of ${[...this.specialByContent.keys()].join(', ')}`);
    return id;
  }

  /** Whether an id is a special token. */
  isSpecial(id: number): boolean {
    return this.specialById.has(id);
  }

  /** A readable form of one id: its text, or its special token. */
  idToString(id: number): string {
    return this.specialById.get(id)?.content ?? this.decoder.decode(this.model.tokenBytes(id));
  }

  /** Render messages with the ChatML template; see chat.ts. */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatOptions = {}): ChatEncoding {
    return applyChatTemplate(this, messages, options);
  }
}
