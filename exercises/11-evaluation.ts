// Exercises 11: evaluation on plain numbers and strings — perplexity and bits per byte, the CMMLU prompt,
// an accuracy with its 95% interval. Run `npm run check -- 11`.

/** One scored text: log p(token | the tokens before it) of each predicted token (natural log), and its UTF-8 bytes. */
export interface ScoredText {
  logProbs: number[];
  bytes: number;
}

/** Surprise over some texts, as lib/eval/perplexity.ts's PplResult reports it. */
export interface Surprise {
  /** Tokens predicted, over all the texts. */
  tokens: number;
  /** UTF-8 bytes, over all the texts. */
  bytes: number;
  /** Negative log-likelihood, summed over every token of every text, in nats. */
  nll: number;
  /** nll / tokens. */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** nll in bits (÷ ln 2) per byte. */
  bitsPerByte: number;
}

/** Loss, perplexity and bits per byte of the texts together (every token counts once: not a mean of per-text perplexities). */
export function surprise(texts: ScoredText[]): Surprise {
  throw new Error('TODO: surprise — add up tokens (logProbs.length), bytes and nll = −Σ logProbs over every text; loss = nll / tokens, perplexity = exp(loss), bitsPerByte = nll / ln 2 / bytes');
}

/** A multiple-choice question (lib/eval/mcq-data.ts's McqItem has these fields and more). */
export interface Question {
  question: string;
  options: [string, string, string, string];
  /** The right letter; a worked example needs it. */
  answer: 'A' | 'B' | 'C' | 'D' | null;
}

/**
 * CMMLU's prompt: the header `以下是关于{subject}的单项选择题，请直接给出正确答案的选项。` and a blank line; each
 * shot as `题目：{question}`, a line per option `A. {option}` … `D. {option}`, `答案是：{answer}` and a blank
 * line; then the question the same way, ending in `答案是：` (the model's next token is its answer). Every
 * line ends in `\n`.
 */
export function cmmluPrompt(subject: string, question: Question, shots: Question[]): string {
  throw new Error("TODO: cmmluPrompt — header + '\\n\\n'; per shot '题目：' + question + '\\n', 'A. ' + option + '\\n' … 'D. …\\n', '答案是：' + answer + '\\n\\n'; then the question the same way, ending in '答案是：'");
}

/** An accuracy and its two-sided 95% Wilson score interval. */
export interface AccuracyInterval {
  accuracy: number;
  low: number;
  high: number;
}

/**
 * correct / n with its Wilson score interval (n ≥ 1): with p = correct / n, the interval is
 * (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n), z = 1.959964 (95%).
 */
export function accuracyInterval(correct: number, n: number, z = 1.959963984540054): AccuracyInterval {
  throw new Error('TODO: accuracyInterval — p = correct / n; centre = (p + z²/(2n)) / (1 + z²/n); half = z·sqrt(p(1 − p)/n + z²/(4n²)) / (1 + z²/n); [centre − half, centre + half]');
}
