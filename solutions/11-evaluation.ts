// Solutions 11: evaluation on plain numbers and strings — perplexity and bits per byte, the CMMLU prompt,
// an accuracy with its 95% interval.

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
  let tokens = 0, bytes = 0, nll = 0;
  for (const text of texts) {
    tokens += text.logProbs.length;
    bytes += text.bytes;
    for (const lp of text.logProbs) nll -= lp;
  }
  const loss = nll / tokens;
  return { tokens, bytes, nll, loss, perplexity: Math.exp(loss), bitsPerByte: nll / Math.LN2 / bytes };
}

/** A multiple-choice question (lib/eval/mcq-data.ts's McqItem has these fields and more). */
export interface Question {
  question: string;
  options: [string, string, string, string];
  /** The right letter; a worked example needs it. */
  answer: 'A' | 'B' | 'C' | 'D' | null;
}

/** One question: its text, the four options, "答案是：" and, for a worked example, the answer and a blank line. */
function block(q: Question, withAnswer: boolean): string {
  const options = q.options.map((o, i) => `${'ABCD'[i]}. ${o}\n`).join('');
  return `题目：${q.question}\n${options}答案是：${withAnswer ? `${q.answer}\n\n` : ''}`;
}

/**
 * CMMLU's prompt: the header `以下是关于{subject}的单项选择题，请直接给出正确答案的选项。` and a blank line; each
 * shot as `题目：{question}`, a line per option `A. {option}` … `D. {option}`, `答案是：{answer}` and a blank
 * line; then the question the same way, ending in `答案是：` (the model's next token is its answer). Every
 * line ends in `\n`.
 */
export function cmmluPrompt(subject: string, question: Question, shots: Question[]): string {
  const header = `以下是关于${subject}的单项选择题，请直接给出正确答案的选项。\n\n`;
  return header + shots.map((s) => block(s, true)).join('') + block(question, false);
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
  const p = correct / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  // Clamped only against rounding: the exact interval is within [0, 1], touching 0 at p = 0 and 1 at p = 1.
  return { accuracy: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}
