// Special tokens: whole strings with their own ids that BPE never builds from ordinary text (no merge
// produces them) and that are found in input text before any other splitting.

/** The document separator; also pads batches. */
export const ENDOFTEXT = '<|endoftext|>';
/** ChatML: starts a message, followed by the role and a newline. */
export const IM_START = '<|im_start|>';
/** ChatML: ends a message. */
export const IM_END = '<|im_end|>';
/** Our special tokens, at ids 0, 1, 2 of every tokenizer we train (as minimind does). */
export const DEFAULT_SPECIALS = [ENDOFTEXT, IM_START, IM_END] as const;

/** A special (HF: "added") token. */
export interface SpecialToken {
  id: number;
  content: string;
  /** HF's lstrip/rstrip: the token also swallows whitespace on that side. */
  lstrip?: boolean;
  rstrip?: boolean;
}

/** Finds special tokens in text: splits it into text segments and special-token ids. */
export class SpecialMatcher {
  private readonly re: RegExp | null;
  /** Ids in the order of the regex's capture groups. */
  private readonly order: number[];

  constructor(readonly tokens: readonly SpecialToken[]) {
    // Longest first, so that a token that is a prefix of another never wins; one capture group each.
    const sorted = [...tokens].sort((a, b) => b.content.length - a.content.length);
    this.order = sorted.map((t) => t.id);
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const alternatives = sorted.map((t) => `(${t.lstrip ? '\\s*' : ''}${escape(t.content)}${t.rstrip ? '\\s*' : ''})`);
    this.re = alternatives.length > 0 ? new RegExp(alternatives.join('|'), 'gu') : null;
  }

  /** Split text into ordinary segments (strings) and special tokens (ids), in order. */
  split(text: string): (string | number)[] {
    if (this.re === null) return [text];
    const out: (string | number)[] = [];
    let last = 0;
    this.re.lastIndex = 0;
    for (let m = this.re.exec(text); m !== null; m = this.re.exec(text)) {
      if (m.index > last) out.push(text.slice(last, m.index));
      out.push(this.order[m.slice(1).findIndex((g) => g !== undefined)]!);
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }
}
