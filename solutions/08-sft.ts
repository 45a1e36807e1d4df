// Solutions 08: the chat template's loss mask, the masked loss and padded batches, on plain numbers.

/** One message of a conversation (as lib/tokenizer/chat.ts's ChatMessage). */
export interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Ids of the two ChatML special tokens. */
export interface ChatSpecials {
  imStart: number;
  imEnd: number;
}

/**
 * A conversation as ChatML ids — per message: imStart, encode(`${role}\n`), encode(content), imEnd,
 * encode('\n') — and its loss mask: 1 on each assistant message's content ids and its imEnd, 0 elsewhere.
 * (Header and content encoded apart give the ids of the rendered text, since the pre-tokenizer always cuts
 * after the header's newline; lib/tokenizer/chat.ts encodes them together, exact even for content that
 * starts with whitespace.)
 */
export function chatTemplate(messages: Message[], specials: ChatSpecials, encode: (text: string) => number[]): { ids: number[]; mask: number[] } {
  const ids: number[] = [];
  const mask: number[] = [];
  const push = (more: number[], trained: boolean) => {
    ids.push(...more);
    mask.push(...more.map(() => (trained ? 1 : 0)));
  };
  for (const { role, content } of messages) {
    const assistant = role === 'assistant';
    push([specials.imStart, ...encode(`${role}\n`)], false);
    push([...encode(content), specials.imEnd], assistant);
    push(encode('\n'), false);
  }
  return { ids, mask };
}

/** Mean of −log p over the tokens, each counted with its weight: Σ w·(−logp) / Σ w (0 when every weight is 0). */
export function maskedMeanLoss(logProbs: number[][], weights: number[][]): number {
  let sum = 0;
  let total = 0;
  logProbs.forEach((row, b) => row.forEach((lp, t) => {
    const w = weights[b]![t]!;
    sum += w * -lp;
    total += w;
  }));
  return total > 0 ? sum / total : 0;
}

/** One SFT example: ids and, per id, 1 where the loss trains on it. */
export interface Example {
  ids: number[];
  mask: number[];
}

/**
 * Rows of `width` predictions from examples of at most width + 1 ids: inputs ids[0…n−2], targets ids[1…n−1],
 * weights mask[1…n−1] (a target counts when the token it predicts is trained), then `pad` (weight 0) to the width.
 */
export function padBatch(examples: Example[], pad: number, width: number): { inputs: number[][]; targets: number[][]; weights: number[][] } {
  const fill = (values: number[], value: number) => [...values, ...Array<number>(width - values.length).fill(value)];
  return {
    inputs: examples.map((e) => fill(e.ids.slice(0, -1), pad)),
    targets: examples.map((e) => fill(e.ids.slice(1), pad)),
    weights: examples.map((e) => fill(e.mask.slice(1), 0)),
  };
}
