// SFT records in the formats the seeds' datasets use, turned into one list of chat messages:
//   minimind   {"conversations": [{"role": "system"|"user"|"assistant", "content": "…"}, …]}
//   ShareGPT   {"conversations": [{"from": "system"|"human"|"gpt", "value": "…"}, …]}
//   tiny-llm-zh {"question": "…", "answer": "…"} (+ "system")
//   Alpaca     {"instruction": "…", "input": "…", "output": "…"} (+ "system")
// A record that is not a trainable conversation — an unknown role, no messages, a system message after
// the first, a last message that is not the assistant's, a field of the wrong type — throws
// "field: reason", which the reader turns into "file:line: field: reason" and counts.
import type { ChatMessage, ChatRole } from '../tokenizer/chat.js';

/** ShareGPT's speaker names (and the role names some ShareGPT files use instead). */
const SHAREGPT_ROLES: Record<string, ChatRole> = { system: 'system', human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant' };
const ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

/** The messages of one SFT record in any of the formats above; throws "field: reason" for a record that is not one. */
export function readConversation(value: unknown): ChatMessage[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`record: ${describe(value)}, expected a JSON object`);
  const record = value as Record<string, unknown>;
  let messages: ChatMessage[];
  if ('conversations' in record) messages = readMessages(record.conversations, 'conversations');
  else if ('question' in record || 'answer' in record) messages = fromPair(record, 'question', 'answer');
  else if ('instruction' in record || 'output' in record) messages = fromAlpaca(record);
  else throw new Error(`record: fields ${JSON.stringify(Object.keys(record))}, expected "conversations", "question"/"answer" or "instruction"/"output"`);
  checkOrder(messages);
  return messages;
}

/** A list of minimind's {role, content} or ShareGPT's {from, value} messages; errors name `name` (the record's field). */
export function readMessages(turns: unknown, name: string): ChatMessage[] {
  if (!Array.isArray(turns)) throw new Error(`${name}: ${describe(turns)}, expected a list of messages`);
  return turns.map((turn, i) => {
    const field = `${name}[${i}]`;
    if (typeof turn !== 'object' || turn === null || Array.isArray(turn)) throw new Error(`${field}: ${describe(turn)}, expected an object`);
    const t = turn as Record<string, unknown>;
    if ('from' in t) {
      const role = SHAREGPT_ROLES[String(t.from)];
      if (typeof t.from !== 'string' || !role) throw new Error(`${field}.from: ${JSON.stringify(t.from)}, expected one of ${Object.keys(SHAREGPT_ROLES).join(', ')}`);
      return { role, content: text(t.value, `${field}.value`) };
    }
    if (typeof t.role !== 'string' || !ROLES.includes(t.role as ChatRole)) throw new Error(`${field}.role: ${JSON.stringify(t.role)}, expected one of ${ROLES.join(', ')}`);
    return { role: t.role as ChatRole, content: text(t.content, `${field}.content`) };
  });
}

/** A question/answer pair, with an optional system prompt. */
function fromPair(record: Record<string, unknown>, question: string, answer: string, prompt = text(record[question], question)): ChatMessage[] {
  const system = record.system === undefined || record.system === '' ? [] : [{ role: 'system' as const, content: text(record.system, 'system') }];
  return [...system, { role: 'user', content: prompt }, { role: 'assistant', content: text(record[answer], answer) }];
}

/** Alpaca: the instruction, then the input (when there is one) on the next lines, answered by the output. */
function fromAlpaca(record: Record<string, unknown>): ChatMessage[] {
  const instruction = text(record.instruction, 'instruction');
  const input = record.input === undefined ? '' : text(record.input, 'input', true);
  return fromPair(record, 'instruction', 'output', input === '' ? instruction : `${instruction}\n${input}`);
}

/** A string field with some non-blank text (blank allowed when `mayBeEmpty`). */
export function text(value: unknown, field: string, mayBeEmpty = false): string {
  if (typeof value !== 'string') throw new Error(`${field}: ${describe(value)}, expected a string`);
  if (!mayBeEmpty && value.trim() === '') throw new Error(`${field}: empty, expected some text`);
  return value;
}

/** A system message may only open the conversation; the last message is the one trained on, so it is the assistant's. */
export function checkOrder(messages: ChatMessage[]): void {
  if (messages.length === 0) throw new Error('conversations: empty, expected at least a user and an assistant message');
  messages.forEach((m, i) => {
    if (m.role === 'system' && i > 0) throw new Error(`conversations[${i}].role: "system" after the first message, expected the system prompt first`);
  });
  if (messages[messages.length - 1]!.role !== 'assistant') throw new Error(`conversations[${messages.length - 1}].role: "${messages[messages.length - 1]!.role}" is last, expected the conversation to end with an assistant message`);
}

/** A value as an error message shows it: its type, or the value when short. */
export function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const s = JSON.stringify(value);
  return s.length <= 40 ? `${typeof value} ${s}` : `a ${typeof value}`;
}

/** A conversation given on the command line: a JSON list of messages or a whole SFT record; errors start with `flag`. */
export function parseConversationFlag(json: string, flag: string): ChatMessage[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new Error(`${flag}: not valid JSON (${(err as Error).message}), expected a list of {"role", "content"} messages`);
  }
  try {
    return readConversation(Array.isArray(value) ? { conversations: value } : value);
  } catch (err) {
    throw new Error(`${flag}: ${(err as Error).message}`);
  }
}
