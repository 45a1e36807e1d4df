// Reading and checking the bodies of /v1/chat/completions and /v1/completions: every field we use,
// with a 400 that names the field when it is wrong. Fields we do not use are ignored, as OpenAI-style
// servers do, so that clients sending extras (user, logit_bias: {}) still work; those that would change
// the answer and that we cannot honour (n > 1, tools) are refused rather than ignored.
import type { SampleOptions } from '../infer/sampling-options.js';
import type { ChatMessage } from '../tokenizer/chat.js';
import { ApiError, badField } from './errors.js';

/** What every generation request asks for. */
export interface GenerationRequest {
  sampling: SampleOptions;
  /** Most new tokens; null: as many as the context leaves. */
  maxTokens: number | null;
  stop: string[];
  seed: number;
  stream: boolean;
  includeUsage: boolean;
  /** vLLM's ignore_eos: generate max_tokens whatever the model says (benchmarks, tests). */
  ignoreEos: boolean;
}

export interface ChatRequest extends GenerationRequest {
  messages: ChatMessage[];
}

export interface CompletionRequest extends GenerationRequest {
  prompt: string;
  echo: boolean;
  /** Top log-probabilities per token to return (0–5), or null for none. */
  logprobs: number | null;
}

type Body = Record<string, unknown>;

function optionalNumber(body: Body, key: string, min: number, max: number, expected: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw badField(key, v, expected);
  return v;
}

function optionalInt(body: Body, key: string, min: number, max: number): number | undefined {
  const v = optionalNumber(body, key, min, max, `an integer in [${min}, ${max}]`);
  if (v !== undefined && !Number.isInteger(v)) throw badField(key, v, `an integer in [${min}, ${max}]`);
  return v;
}

function optionalBoolean(body: Body, key: string): boolean {
  const v = body[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw badField(key, v, 'true or false');
  return v;
}

/** The fields chat and completions share. */
function generationFields(body: Body, defaultMaxTokens: number | null): GenerationRequest {
  const n = optionalInt(body, 'n', 1, 1_000_000);
  if (n !== undefined && n !== 1) throw badField('n', n, '1 (one choice per request)');
  let stop: string[] = [];
  if (typeof body.stop === 'string') stop = [body.stop];
  else if (Array.isArray(body.stop)) stop = body.stop as string[];
  else if (body.stop !== undefined && body.stop !== null) throw badField('stop', body.stop, 'a string or a list of up to 4 strings');
  if (stop.length > 4 || !stop.every((s) => typeof s === 'string' && s !== '')) throw badField('stop', body.stop, 'a string or a list of up to 4 non-empty strings');
  const streamOptions = body.stream_options;
  if (streamOptions !== undefined && streamOptions !== null && (typeof streamOptions !== 'object' || Array.isArray(streamOptions))) throw badField('stream_options', streamOptions, 'an object such as {"include_usage": true}');
  const includeUsage = streamOptions ? optionalBoolean(streamOptions as Body, 'include_usage') : false;
  const maxTokens = optionalInt(body, 'max_completion_tokens', 1, 1_000_000) ?? optionalInt(body, 'max_tokens', 0, 1_000_000);
  return {
    sampling: {
      temperature: optionalNumber(body, 'temperature', 0, 2, 'a number in [0, 2]') ?? 1,
      topP: optionalNumber(body, 'top_p', Number.MIN_VALUE, 1, 'a number in (0, 1]') ?? 1,
      // Extras as vLLM and llama.cpp's server take them:
      topK: optionalInt(body, 'top_k', 0, 1_000_000) ?? 0,
      minP: optionalNumber(body, 'min_p', 0, 1, 'a number in [0, 1]') ?? 0,
      repetitionPenalty: optionalNumber(body, 'repetition_penalty', Number.MIN_VALUE, 10, 'a number in (0, 10]') ?? 1,
      presencePenalty: optionalNumber(body, 'presence_penalty', -2, 2, 'a number in [-2, 2]') ?? 0,
      frequencyPenalty: optionalNumber(body, 'frequency_penalty', -2, 2, 'a number in [-2, 2]') ?? 0,
    },
    maxTokens: maxTokens ?? defaultMaxTokens,
    stop,
    seed: optionalInt(body, 'seed', 0, 2 ** 32 - 1) ?? Math.floor(Math.random() * 2 ** 32),
    stream: optionalBoolean(body, 'stream'),
    includeUsage,
    ignoreEos: optionalBoolean(body, 'ignore_eos'),
  };
}

/** The text of a message's content: a string, or OpenAI's list of parts of which we read the text ones. */
function contentText(content: unknown, i: number): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part, j) => {
      const p = part as Body;
      if (p && p.type === 'text' && typeof p.text === 'string') return p.text;
      throw badField(`messages[${i}].content[${j}]`, part, '{"type": "text", "text": "…"} (this model reads text only)');
    }).join('');
  }
  throw badField(`messages[${i}].content`, content, 'a string or a list of text parts');
}

/** A /v1/chat/completions body. */
export function parseChatRequest(body: Body): ChatRequest {
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw badField('messages', body.messages, 'a non-empty list of {"role", "content"} messages');
  if (body.tools !== undefined && body.tools !== null && !(Array.isArray(body.tools) && body.tools.length === 0)) throw badField('tools', '[…]', 'none: this model does not call tools');
  const messages = (body.messages as unknown[]).map((m, i): ChatMessage => {
    const message = m as Body;
    if (typeof message !== 'object' || message === null) throw badField(`messages[${i}]`, m, 'an object {"role", "content"}');
    // "developer" is OpenAI's newer name for the system role.
    const role = message.role === 'developer' ? 'system' : message.role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant') throw badField(`messages[${i}].role`, message.role, 'system, user or assistant');
    return { role, content: contentText(message.content, i) };
  });
  return { ...generationFields(body, null), messages };
}

/** A /v1/completions body. */
export function parseCompletionRequest(body: Body): CompletionRequest {
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') prompt = prompt[0];
  if (typeof prompt !== 'string') throw badField('prompt', body.prompt, 'a string (or a list of one string)');
  const logprobs = optionalInt(body, 'logprobs', 0, 5);
  return { ...generationFields(body, 16), prompt, echo: optionalBoolean(body, 'echo'), logprobs: logprobs ?? null };
}

/** A JSON object body, or 400. */
export function parseJsonBody(text: string): Body {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, `the request body is not valid JSON (${(err as Error).message})`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'the request body must be a JSON object');
  return body as Body;
}
