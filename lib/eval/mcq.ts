// Multiple-choice evaluation with CMMLU's prompt (for C-Eval's files too; C-Eval's own script words it
// slightly differently), scored in two ways:
//   letter  the prompt lists the options and ends in "答案是："; the answer is whichever of the tokens
//           A, B, C, D the model finds likeliest next (CMMLU's and minimind's way; a small model that has
//           not learned the format sits near chance whatever it knows);
//   option  each option's text is scored as the continuation of "题目：{q}\n答案是：", its log-likelihood
//           divided by its length in UTF-8 bytes (lm-evaluation-harness's acc_norm, by bytes), which
//           asks only what the model knows.
import type { LlamaModel } from '../model/model.js';
import { applyChatTemplate } from '../tokenizer/chat.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { nextTokenLogProbs, tokenLogProbsOfRows } from './logprobs.js';
import { LETTERS, type Letter, type McqItem, type McqSet } from './mcq-data.js';
import { accuracy, type Accuracy } from './stats.js';

export type McqScoring = 'letter' | 'option';

/** Options of evaluateMcq. */
export interface McqOptions {
  score: McqScoring;
  /** Worked examples from the subject's dev rows before each question (letter scoring only). */
  shots: number;
  /** Wrap the prompt as a user message and score the assistant's first tokens (chat models). */
  chat: boolean;
  /** Rows per forward pass. */
  batch: number;
  /** Called as rows are scored: done and total. */
  onProgress?: (done: number, total: number) => void;
}

/** One item's outcome, as the predictions file records it. */
export interface McqPrediction {
  file: string;
  id: string;
  subject: string;
  pred: Letter;
  answer: Letter | null;
  /** Per option: its log-probability (letter) or log-likelihood per byte (option). */
  scores: number[];
}

/** Accuracy of one subject, and overall (micro: over items; macro: the mean over subjects). */
export interface McqReport {
  subjects: ({ key: string; name: string } & Accuracy)[];
  micro: Accuracy;
  macro: number;
  /** What guessing scores: one in four. */
  chance: number;
  predictions: McqPrediction[];
  /** Prompts that lost shots to fit the context, and those cut on the left even without shots. */
  fewerShots: number;
  truncated: number;
}

/** The header CMMLU puts before the questions of a subject. */
export function mcqHeader(subject: string): string {
  return `以下是关于${subject}的单项选择题，请直接给出正确答案的选项。\n\n`;
}

/** A question with its options, ending in "答案是：" and, for a worked example, its answer and a blank line. */
export function mcqQuestion(item: McqItem, withAnswer = false): string {
  const options = item.options.map((o, i) => `${LETTERS[i]}. ${o}\n`).join('');
  return `题目：${item.question}\n${options}答案是：${withAnswer ? `${item.answer}\n\n` : ''}`;
}

/** The letter-scoring prompt: the header, `shots` worked examples, then the question. */
export function mcqPrompt(subject: string, item: McqItem, shots: readonly McqItem[]): string {
  return mcqHeader(subject) + shots.map((s) => mcqQuestion(s, true)).join('') + mcqQuestion(item);
}

/**
 * The worked examples that fit, chosen as CMMLU's script chooses them: while the shots' token counts
 * (each encoded alone) add up to at least the room that the prompt without shots leaves in `maxSeq`,
 * drop every shot of the longest length. The kept shots, in their order.
 */
export function shotsThatFit(tokenizer: Tokenizer, promptIds: (text: string) => number[], subject: string, item: McqItem, shots: readonly McqItem[], maxSeq: number): McqItem[] {
  const room = maxSeq - promptIds(mcqPrompt(subject, item, [])).length;
  let kept = shots.map((shot) => ({ shot, length: tokenizer.encode(mcqQuestion(shot, true)).length }));
  while (kept.length > 0 && kept.reduce((sum, k) => sum + k.length, 0) >= room) {
    const longest = Math.max(...kept.map((k) => k.length));
    kept = kept.filter((k) => k.length !== longest);
  }
  return kept.map((k) => k.shot);
}

/** The option-scoring context that each option's text continues. */
export function clozeContext(item: McqItem): string {
  return `题目：${item.question}\n答案是：`;
}

/** Score every item of the set and report accuracy per subject and overall. */
export function evaluateMcq(model: LlamaModel, tokenizer: Tokenizer, set: McqSet, options: McqOptions): McqReport {
  const { maxSeq } = model.config;
  if (options.shots > 0 && options.score === 'option') throw new Error('--shots: worked examples go with --score letter only (option scoring is zero-shot)');
  const encode = (text: string) => (options.chat ? applyChatTemplate(tokenizer, [{ role: 'user', content: text }], { addGenerationPrompt: true }).ids : tokenizer.encode(text));
  const items = set.subjects.flatMap((s) => s.items.map((item) => ({ subject: s, item })));
  let fewerShots = 0, truncated = 0;
  // Keep the last `room` ids of a sequence too long for the context (its question and answer are there).
  const fit = (ids: number[], room: number) => {
    if (ids.length <= room) return ids;
    truncated++;
    return ids.slice(ids.length - room);
  };
  let scores: Float32Array[];
  if (options.score === 'letter') {
    const letterIds = LETTERS.map((l) => {
      const ids = tokenizer.encode(l);
      if (ids.length !== 1) throw new Error(`tokenizer: "${l}" encodes to ${ids.length} tokens, letter scoring needs one; use --score option`);
      return ids[0]!;
    });
    const prompts = items.map(({ subject, item }) => {
      if (options.shots > subject.dev.length) throw new Error(`${subject.file}: --shots ${options.shots}, but the dev split has ${subject.dev.length} answered rows for subject ${subject.key}`);
      const shots = shotsThatFit(tokenizer, encode, subject.name, item, subject.dev.slice(0, options.shots), maxSeq);
      if (shots.length < options.shots) fewerShots++;
      return fit(encode(mcqPrompt(subject.name, item, shots)), maxSeq); // cut on the left only if the question alone is too long
    });
    scores = nextTokenLogProbs(model, prompts, letterIds, options.batch, (done) => options.onProgress?.(done, prompts.length));
  } else {
    // One row per option: the context's ids, then the option's (split as lm-evaluation-harness does:
    // encode(context + option) cut after as many ids as the context alone has).
    const rows: number[][] = [];
    const answerIds: number[] = []; // how many ids at the end of each row are the option's
    const bytes: number[] = [];
    for (const { item } of items) {
      const context = encode(clozeContext(item));
      for (const option of item.options) {
        const whole = options.chat
          ? [...context, ...tokenizer.encode(option)] // the chat prompt ends in a special token: nothing merges across
          : tokenizer.encode(clozeContext(item) + option);
        // (Should the context's last ids merge into the option, whole is no longer: then encode it alone.)
        const continuation = whole.length > context.length ? whole.slice(context.length) : tokenizer.encode(option);
        rows.push(fit([...context, ...continuation], maxSeq + 1));
        answerIds.push(continuation.length);
        bytes.push(Buffer.byteLength(option, 'utf8'));
      }
    }
    const logProbs = tokenLogProbsOfRows(model, rows, options.batch, (done) => options.onProgress?.(Math.floor(done / 4), items.length));
    const perOption = logProbs.map((lp, r) => lp.slice(lp.length - answerIds[r]!).reduce((a, b) => a + b, 0) / bytes[r]!);
    scores = items.map((_, i) => Float32Array.from(perOption.slice(4 * i, 4 * i + 4)));
  }
  const predictions = items.map(({ subject, item }, i): McqPrediction => {
    const s = Array.from(scores[i]!);
    const best = s.indexOf(Math.max(...s));
    return { file: item.file, id: item.id, subject: subject.key, pred: LETTERS[best]!, answer: item.answer, scores: s };
  });
  const subjects = set.subjects.map((s) => {
    const scored = predictions.filter((p) => p.file === s.file && p.answer !== null);
    return { key: s.key, name: s.name, ...accuracy(scored.filter((p) => p.pred === p.answer).length, scored.length) };
  });
  const answered = predictions.filter((p) => p.answer !== null);
  const withItems = subjects.filter((s) => s.n > 0);
  return {
    subjects,
    micro: accuracy(answered.filter((p) => p.pred === p.answer).length, answered.length),
    macro: withItems.length > 0 ? withItems.reduce((a, s) => a + s.accuracy, 0) / withItems.length : NaN,
    chance: 1 / LETTERS.length,
    predictions, fewerShots, truncated,
  };
}
