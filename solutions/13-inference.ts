// Solutions 13: inference on plain numbers and strings — top-k and top-p filtering, Hugging Face's
// repetition penalty, and reading a server-sent event stream as the OpenAI API sends it.

/** What an OpenAI chat stream said: its text, why it ended, and whether it ended with [DONE]. */
export interface StreamedChat {
  text: string;
  finishReason: string | null;
  done: boolean;
}

/** Top-k, then top-p over the renormalised k; probabilities renormalised over what is kept. */
export function filterTopKTopP(probs: number[], k: number, p: number): number[] {
  let order = probs.map((_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b);
  if (k > 0) order = order.slice(0, k);
  const total = order.reduce((s, i) => s + probs[i]!, 0);
  const kept: number[] = [];
  let sum = 0;
  for (const i of order) {
    if (kept.length > 0 && sum >= p * total - 1e-12) break;
    kept.push(i);
    sum += probs[i]!;
  }
  const out = probs.map(() => 0);
  for (const i of kept) out[i] = probs[i]! / sum;
  return out;
}

/** Hugging Face's repetition penalty. */
export function repetitionPenalty(logits: number[], seen: number[], penalty: number): number[] {
  const out = [...logits];
  for (const id of new Set(seen)) out[id] = logits[id]! > 0 ? logits[id]! / penalty : logits[id]! * penalty;
  return out;
}

/** The data of each complete event of a server-sent event stream. */
export function parseSse(body: string): string[] {
  const events: string[] = [];
  let data: string[] = [];
  const lines = body.split(/\r\n|\r|\n/);
  lines.pop(); // the text after the last line end: an unfinished line
  for (const line of lines) {
    if (line === '') {
      if (data.length > 0) events.push(data.join('\n'));
      data = [];
    } else if (line.startsWith('data:')) {
      data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
    }
  }
  return events;
}

/** Read an OpenAI chat completion stream. */
export function readChatStream(body: string): StreamedChat {
  const result: StreamedChat = { text: '', finishReason: null, done: false };
  for (const data of parseSse(body)) {
    if (data === '[DONE]') {
      result.done = true;
      continue;
    }
    const choice = (JSON.parse(data) as { choices: { delta: { content?: string }; finish_reason: string | null }[] }).choices[0];
    if (!choice) continue; // the usage chunk has no choices
    result.text += choice.delta.content ?? '';
    if (choice.finish_reason) result.finishReason = choice.finish_reason;
  }
  return result;
}
