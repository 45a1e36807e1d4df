// Generation: ask a chat model each question of a held-out set and compare its greedy answer with the
// reference — exact match, whether the reference is contained in the answer, and character-level F1
// (the overlap of characters; for Chinese, where a word is one or two characters, the analogue of
// SQuAD's word F1). Greedy, so that the numbers are the model's, not the sampler's.
import { readConversation } from '../data/conversations.js';
import { readJsonl } from '../data/documents.js';
import { generate } from '../infer/sampling.js';
import type { LlamaModel } from '../model/model.js';
import { applyChatTemplate, type ChatMessage } from '../tokenizer/chat.js';
import { IM_END } from '../tokenizer/special.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

/** One question: the conversation up to it, the reference answer, and where it came from. */
export interface QaItem {
  file: string;
  line: number;
  /** The messages before the answer (an optional system prompt, earlier turns, the question). */
  prompt: ChatMessage[];
  answer: string;
}

/** One item's outcome. */
export interface QaPrediction {
  file: string;
  line: number;
  question: string;
  answer: string;
  pred: string;
  exact: boolean;
  contains: boolean;
  f1: number;
  /** The reply ended with <|im_end|> (false: it ran out of tokens). */
  stopped: boolean;
}

/** Means over the items. */
export interface QaReport {
  n: number;
  exact: number;
  contains: number;
  f1: number;
  stopped: number;
  predictions: QaPrediction[];
}

/**
 * The questions of a JSONL file in any format SFT reads ({"question", "answer"}, minimind's or ShareGPT's
 * conversations, Alpaca): the last assistant message is the reference. Bad lines are skipped and counted.
 */
export async function readQaItems(file: string): Promise<{ items: QaItem[]; skipped: number; skippedExamples: string[] }> {
  const items: QaItem[] = [];
  const stats = await readJsonl(file, readConversation, (messages, line) => {
    items.push({ file, line, prompt: messages.slice(0, -1), answer: messages.at(-1)!.content });
  });
  if (items.length === 0) throw new Error(`${file}: no questions (${stats.malformed} malformed lines${stats.malformedExamples[0] ? `, e.g. ${stats.malformedExamples[0]}` : ''})`);
  return { items, skipped: stats.malformed, skippedExamples: stats.malformedExamples };
}

/** The characters compared: NFKC (full-width forms as ASCII), whitespace left out. */
function characters(text: string): string[] {
  return [...text.normalize('NFKC')].filter((c) => !/\s/u.test(c));
}

/** F1 of the characters two texts share (as multisets): 1 for the same characters, 0 for none in common. */
export function charF1(pred: string, reference: string): number {
  const p = characters(pred), r = characters(reference);
  if (p.length === 0 || r.length === 0) return p.length === r.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const c of r) counts.set(c, (counts.get(c) ?? 0) + 1);
  let common = 0;
  for (const c of p) {
    const left = counts.get(c) ?? 0;
    if (left > 0) {
      common++;
      counts.set(c, left - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / p.length, recall = common / r.length;
  return (2 * precision * recall) / (precision + recall);
}

/** Answer each item greedily (at most maxTokens) and score the answers. */
export function evaluateGeneration(model: LlamaModel, tokenizer: Tokenizer, items: readonly QaItem[], options: { maxTokens: number; onProgress?: (done: number, total: number) => void }): QaReport {
  const imEnd = tokenizer.specialId(IM_END);
  const same = (a: string, b: string) => characters(a).join('') === characters(b).join('');
  const predictions = items.map((item, i): QaPrediction => {
    const prompt = applyChatTemplate(tokenizer, item.prompt, { addGenerationPrompt: true }).ids;
    const room = model.config.maxSeq - prompt.length;
    if (room < 1) throw new Error(`${item.file}:${item.line}: prompt: ${prompt.length} tokens leave no room in the model's context of ${model.config.maxSeq}`);
    const ids = generate(model, prompt, { temperature: 0, maxNewTokens: Math.min(options.maxTokens, room), stopIds: [imEnd] });
    const stopped = ids.at(-1) === imEnd;
    const pred = tokenizer.decode(stopped ? ids.slice(0, -1) : ids, { skipSpecial: true }).trim();
    options.onProgress?.(i + 1, items.length);
    const answer = item.answer.trim();
    return {
      file: item.file, line: item.line, question: item.prompt.at(-1)!.content, answer, pred,
      exact: same(pred, answer), contains: characters(pred).join('').includes(characters(answer).join('')), f1: charF1(pred, answer), stopped,
    };
  });
  const mean = (f: (p: QaPrediction) => number) => (predictions.length > 0 ? predictions.reduce((a, p) => a + f(p), 0) / predictions.length : NaN);
  return {
    n: predictions.length, exact: mean((p) => +p.exact), contains: mean((p) => +p.contains), f1: mean((p) => p.f1), stopped: mean((p) => +p.stopped),
    predictions,
  };
}
