// Exercises 13: inference on plain numbers and strings — top-k and top-p filtering, Hugging Face's
// repetition penalty, and reading a server-sent event stream as the OpenAI API sends it. Run
// `npm run check -- 13`.

/** What an OpenAI chat stream said: its text, why it ended, and whether it ended with [DONE]. */
export interface StreamedChat {
  text: string;
  finishReason: string | null;
  done: boolean;
}

/**
 * Keep the k most likely tokens (k = 0: all), then the nucleus of those: the fewest most likely whose
 * probability, renormalised over the k, sums to at least p (p = 1: all). Return the probabilities
 * renormalised over what is kept, 0 elsewhere, in the input's order. Ties keep the lower id first.
 */
export function filterTopKTopP(probs: number[], k: number, p: number): number[] {
  throw new Error('TODO: filterTopKTopP — sort ids by probability (stable), keep the first k, renormalise, keep the shortest prefix reaching p, renormalise again');
}

/** Hugging Face's repetition penalty: for each id in `seen` (once, however often it appears), a positive logit is divided by `penalty`, a negative one multiplied. */
export function repetitionPenalty(logits: number[], seen: number[], penalty: number): number[] {
  throw new Error('TODO: repetitionPenalty — copy the logits; for each distinct seen id: x > 0 ? x / penalty : x * penalty');
}

/**
 * The data of each event of a server-sent event stream, in order. Lines end in \n, \r\n or \r; a blank
 * line ends an event; `data: x` (one space after the colon is dropped) adds a line x to the event's
 * data, several joined with \n; lines starting with ':' are comments; other fields (event:, id:) are
 * ignored; an event without data is not reported, nor one the stream ends in the middle of.
 */
export function parseSse(body: string): string[] {
  throw new Error('TODO: parseSse — split lines on \\r\\n|\\r|\\n; collect data lines; at a blank line, emit their join("\\n") if any');
}

/** Read an OpenAI chat completion stream: the concatenated delta contents, the last finish_reason, and whether it ended with [DONE]. */
export function readChatStream(body: string): StreamedChat {
  throw new Error("TODO: readChatStream — for each event of parseSse: '[DONE]' sets done; otherwise JSON.parse it and add choices[0].delta.content, keep choices[0].finish_reason when set");
}
