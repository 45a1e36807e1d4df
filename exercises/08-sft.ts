// Exercises 08: the chat template's loss mask, the masked loss and padded batches, on plain numbers.
// Run `npm run check -- 08`.

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
  throw new Error("TODO: chatTemplate — for each message append imStart, encode(role + '\\n'), encode(content), imEnd, encode('\\n'); mask 1 only on an assistant's content ids and its imEnd");
}

/** Mean of −log p over the tokens, each counted with its weight: Σ w·(−logp) / Σ w (0 when every weight is 0). */
export function maskedMeanLoss(logProbs: number[][], weights: number[][]): number {
  throw new Error('TODO: maskedMeanLoss — add up w·(−logp) and w over every [b][t]; divide (return 0 when Σ w is 0)');
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
  throw new Error('TODO: padBatch — per example: inputs ids.slice(0, -1), targets ids.slice(1), weights mask.slice(1); fill each row up to width with pad (weights with 0)');
}
