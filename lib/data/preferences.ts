// Preference data for DPO: a prompt, a chosen answer and a rejected one, in the seeds' formats:
//   minimind / TRL (implicit prompt)  {"chosen": [messages…], "rejected": [messages…]}   (same prompt, then the answer)
//   TRL / tiny-llm-zh                 {"prompt": "…", "chosen": "…", "rejected": "…"}
//   TRL conversational                {"prompt": [messages…], "chosen": [assistant message], "rejected": [assistant message]}
// Each pair is stored as two examples, prompt + chosen and prompt + rejected, with the same loss mask as
// SFT (the answer and its <|im_end|>), in an example directory ('tinyllm-dpo-1'); a pair whose either
// answer does not fit --seq is skipped and counted, never cut.
import type { ChatMessage } from '../tokenizer/chat.js';
import { applyChatTemplate } from '../tokenizer/chat.js';
import { checkOrder, describe, readMessages, text } from './conversations.js';
import { EpochOrder, type Batch, type BatchSource, type LoaderPosition } from './loader.js';
import { groupByLength, padExamples, SftDataset, writeExamples, type SftExample, type SftIndex, type SftPrepareOptions } from './sft.js';

/** One preference: the prompt messages, and the assistant answer preferred over the other. */
export interface PreferencePair {
  prompt: ChatMessage[];
  chosen: string;
  rejected: string;
}

/** The pair in a record of any of the formats above; throws "field: reason" for a record that is not one. */
export function readPreference(value: unknown): PreferencePair {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`record: ${describe(value)}, expected a JSON object`);
  const record = value as Record<string, unknown>;
  if (!('chosen' in record) || !('rejected' in record)) throw new Error(`record: fields ${JSON.stringify(Object.keys(record))}, expected "chosen" and "rejected" (and "prompt")`);
  if (!('prompt' in record)) {
    // The prompt is inside both conversations: everything before their last (assistant) message.
    const [chosen, rejected] = (['chosen', 'rejected'] as const).map((field) => {
      const messages = readMessages(record[field], field);
      if (messages.length < 2) throw new Error(`${field}: ${messages.length} message(s), expected the prompt and then the answer`);
      checkOrder(messages);
      return messages;
    }) as [ChatMessage[], ChatMessage[]];
    const prompt = chosen.slice(0, -1);
    if (rejected.length !== chosen.length || prompt.some((m, i) => m.role !== rejected[i]!.role || m.content !== rejected[i]!.content)) {
      throw new Error('rejected: its prompt differs from chosen\'s, expected the same messages before the answer');
    }
    return { prompt, chosen: chosen[chosen.length - 1]!.content, rejected: rejected[rejected.length - 1]!.content };
  }
  if (typeof record.prompt === 'string') {
    return { prompt: [{ role: 'user', content: text(record.prompt, 'prompt') }], chosen: text(record.chosen, 'chosen'), rejected: text(record.rejected, 'rejected') };
  }
  const prompt = readMessages(record.prompt, 'prompt');
  if (prompt.length === 0) throw new Error('prompt: empty, expected at least a user message');
  checkOrder([...prompt, { role: 'assistant', content: '' }]);
  const answer = (field: 'chosen' | 'rejected') => {
    const messages = readMessages(record[field], field);
    if (messages.length !== 1 || messages[0]!.role !== 'assistant') throw new Error(`${field}: expected one assistant message`);
    return text(messages[0]!.content, `${field}[0].content`);
  };
  return { prompt, chosen: answer('chosen'), rejected: answer('rejected') };
}

/** prompt + chosen and prompt + rejected as examples with the answer's mask; null when either is longer than seq + 1 ids. */
export function encodePair(tokenizer: Parameters<typeof applyChatTemplate>[0], pair: PreferencePair, seq: number): [SftExample, SftExample] | null {
  const examples = [pair.chosen, pair.rejected].map((answer) => {
    const { ids, assistantMask } = applyChatTemplate(tokenizer, [...pair.prompt, { role: 'assistant', content: answer }]);
    return { ids, mask: assistantMask };
  }) as [SftExample, SftExample];
  return examples.every((e) => e.ids.length <= seq + 1) ? examples : null;
}

/** Write a DPO data directory (atomically); returns its index (train.examples is twice the pairs). */
export function prepareDpo(o: SftPrepareOptions): Promise<SftIndex> {
  return writeExamples(o, 'tinyllm-dpo-1', readPreference, (pair) => {
    const examples = encodePair(o.tokenizer, pair, o.seq);
    return examples && { examples, cut: false };
  });
}

/**
 * Batches of n pairs as 2n rows — the chosen answers first, then the rejected in the same order — so
 * that one forward pass scores both; right-padded like SFT batches, pairs of similar length grouped
 * when shuffling. Each batch carries the reference model's log-probabilities of its rows.
 */
export class DpoLoader implements BatchSource {
  /** Rows per batch: two per pair. */
  readonly batch: number;
  private readonly epochs: EpochOrder;

  /** `reference`: per example (2i chosen, 2i + 1 rejected), from referenceLogProbs. */
  constructor(readonly data: SftDataset, readonly pairs: number, readonly seq: number, readonly reference: Float32Array, seed = 0, shuffle = true) {
    const count = data.length / 2;
    if (count < pairs) throw new Error(`${data.dir}: the ${data.split} split has ${count} pair(s), fewer than the batch of ${pairs}; use a smaller --batch or more data`);
    if (data.index.seq > seq) throw new Error(`${data.dir}: prepared for --seq ${data.index.seq}, longer than --seq ${seq} here; prepare it again with --seq ${seq}`);
    if (reference.length !== data.length) throw new Error(`${data.dir}: ${reference.length} reference log-probabilities for ${data.length} examples of the ${data.split} split`);
    this.batch = 2 * pairs;
    const length = (p: number) => Math.max(data.exampleLength(2 * p), data.exampleLength(2 * p + 1));
    this.epochs = new EpochOrder(count, seed, shuffle, shuffle ? (order, rng) => groupByLength(order, rng, pairs, length) : undefined);
  }

  get position(): LoaderPosition {
    return this.epochs.position;
  }

  seek(position: LoaderPosition): void {
    this.epochs.seek(position);
  }

  next(): Batch {
    const chosen: number[] = [];
    for (let i = 0; i < this.pairs; i++) chosen.push(2 * this.epochs.next());
    const rows = [...chosen, ...chosen.map((c) => c + 1)]; // example indices, chosen then rejected
    const batch = padExamples(rows.map((i) => this.data.get(i)), this.seq, this.data.index.pad);
    return { ...batch, reference: Float32Array.from(rows, (i) => this.reference[i]!) };
  }

  skipBatch(): void {
    this.epochs.advance(this.pairs);
  }
}
