// An OpenAI-compatible HTTP server for one model: /v1/chat/completions and /v1/completions (plain and
// streamed as server-sent events), /v1/models, /health, and a chat page at /. Exact to the API's shapes
// so that the official clients and chat UIs work unchanged: every stream chunk carries the same id,
// object, created and model, the stream ends with `data: [DONE]`, errors are {"error": {…}} with the
// status the clients expect. Running generations share the model as rows of one batch, one forward pass
// per step for all of them (scheduler.ts).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as tf from '@tensorflow/tfjs';
import { defaultStopIds, type GenerateOptions, type Sequence } from '../infer/sampling.js';
import { TextGeneration } from '../infer/text-generation.js';
import type { LlamaModel } from '../model/model.js';
import { applyChatTemplate } from '../tokenizer/chat.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { ApiError, badField } from './errors.js';
import { chatPage, pageAsset } from './page.js';
import { type GenerationRequest, parseChatRequest, parseCompletionRequest, parseJsonBody } from './requests.js';
import { type Job, Scheduler } from './scheduler.js';
import { floatValuesOf } from '../backend/read-values.js';

/** How the server runs (options.ts holds the defaults). */
export interface ServeOptions {
  /** The id clients see in /v1/models and every response. */
  modelName: string;
  /** When set, /v1/* requires `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Largest request body; bigger ones get 413. */
  maxBodyBytes: number;
  /** Generations decoded together as one batch; more wait. */
  maxRunning: number;
  /** Generations that may wait; beyond them requests get 429. */
  maxWaiting: number;
  /** Ids that end a reply (default: the tokenizer's <|endoftext|> and <|im_end|>). */
  stopIds?: number[];
}

/** One generation as a scheduler job: its sequence's ids as text, reported piece by piece. */
class GenerationJob implements Job {
  generation: TextGeneration | null = null;

  constructor(
    readonly prompt: readonly number[],
    readonly options: GenerateOptions,
    private readonly tokenizer: Tokenizer,
    private readonly stop: string[],
    private readonly onText: (text: string, sequence: Sequence) => void,
    private readonly onFinish: (err?: Error) => void,
  ) {}

  start(sequence: Sequence): void {
    this.generation = new TextGeneration(sequence, this.tokenizer, this.stop);
  }

  onToken(): void {
    const text = this.generation!.next();
    this.onText(text, this.generation!.sequence);
  }

  finish(err?: Error): void {
    this.onFinish(err);
  }
}

/** log-softmax of logits [V] in float64. */
function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits, (x) => x - lse);
}

/** The k largest entries of log-probabilities, as token text → log-probability (OpenAI's top_logprobs). */
function topLogprobs(logp: Float64Array, k: number, tokenizer: Tokenizer): Record<string, number> {
  const ids = Array.from(logp.keys()).sort((a, b) => logp[b]! - logp[a]!).slice(0, k);
  return Object.fromEntries(ids.map((id) => [tokenizer.decode([id]), logp[id]!]));
}

/** Start answering requests for `model` (listen() is the caller's). */
export function createApiServer(model: LlamaModel, tokenizer: Tokenizer, options: ServeOptions): Server {
  const scheduler = new Scheduler(model, options.maxRunning, options.maxWaiting);
  let tokensGenerated = 0; // over the server's life, for /health
  const created = Math.floor(Date.now() / 1000);
  const stopIds = options.stopIds ?? defaultStopIds(tokenizer);
  const maxSeq = model.config.maxSeq;

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  /** The whole body as text, or a 413 once it passes the limit. */
  const readBody = (req: IncomingMessage): Promise<string> => new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.maxBodyBytes) {
        req.removeAllListeners('data');
        req.resume(); // drain the rest, so the client reads our answer instead of a reset
        reject(new ApiError(413, `the request body exceeds ${options.maxBodyBytes} bytes`, 'invalid_request_error', null, 'request_too_large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

  /** Generation options within the context: the prompt must leave room for one token. */
  const generationOptions = (prompt: number[], request: GenerationRequest, param: string): GenerateOptions => {
    const room = maxSeq - prompt.length;
    if (room < 1) throw new ApiError(400, `${param}: ${prompt.length} tokens, which leaves no room in the model's context of ${maxSeq} tokens`, 'invalid_request_error', param, 'context_length_exceeded');
    const maxNewTokens = Math.min(request.maxTokens ?? room, room);
    return { ...request.sampling, maxNewTokens, seed: request.seed, stopIds: request.ignoreEos ? [] : stopIds };
  };

  /** Run a generation: stream it as SSE chunks, or answer once it is done. */
  const run = (res: ServerResponse, kind: 'chat' | 'completion', request: GenerationRequest, prompt: number[], generateOptions: GenerateOptions, extra: {
    echo?: string; logprobs?: number | null; promptLogprobs?: CompletionLogprobs;
  }) => {
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;
    const object = kind === 'chat' ? 'chat.completion' : 'text_completion';
    const head = { id, object: request.stream && kind === 'chat' ? 'chat.completion.chunk' : object, created: Math.floor(Date.now() / 1000), model: options.modelName };
    const logprobs = extra.logprobs ?? null;
    const tokenLogprobs: CompletionLogprobs = extra.promptLogprobs ?? { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    let offset = extra.echo?.length ?? 0;
    const generated = () => job.generation?.sequence.ids.length ?? 0;
    const usage = () => ({ prompt_tokens: prompt.length, completion_tokens: generated(), total_tokens: prompt.length + generated() });
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    const usageField = request.includeUsage ? { usage: null } : {};
    if (request.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      if (kind === 'chat') send({ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...usageField });
      else if (extra.echo) send({ ...head, choices: [{ index: 0, text: extra.echo, logprobs: null, finish_reason: null }], ...usageField });
    }
    const job: GenerationJob = new GenerationJob(prompt, generateOptions, tokenizer, request.stop, (text, current) => {
      tokensGenerated++;
      const tokenId = current.ids.at(-1)!;
      if (logprobs !== null && current.lastLogits && !stopIds.includes(tokenId)) { // a stop token is not part of the text
        const logp = logSoftmax(current.lastLogits);
        const token = tokenizer.decode([tokenId]);
        tokenLogprobs.tokens.push(token);
        tokenLogprobs.token_logprobs.push(logp[tokenId]!);
        tokenLogprobs.top_logprobs.push(topLogprobs(logp, logprobs, tokenizer));
        tokenLogprobs.text_offset.push(offset);
        offset += token.length;
      }
      if (request.stream && text) {
        if (kind === 'chat') send({ ...head, choices: [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }], ...usageField });
        else send({ ...head, choices: [{ index: 0, text, logprobs: null, finish_reason: null }], ...usageField });
      }
    }, (err) => {
      if (res.writableEnded || res.destroyed) return;
      const finishReason = job.generation?.sequence.finishReason ?? 'length';
      const text: string = job.generation?.text ?? '';
      if (err) {
        const failure = new ApiError(500, `generation failed: ${err.message}`, 'server_error');
        if (request.stream) send(failure.body());
        else return sendJson(res, 500, failure.body());
      } else if (request.stream) {
        const last = kind === 'chat' ? { index: 0, delta: {}, logprobs: null, finish_reason: finishReason } : { index: 0, text: '', logprobs: null, finish_reason: finishReason };
        send({ ...head, choices: [last], ...usageField });
        if (request.includeUsage) send({ ...head, choices: [], usage: usage() });
      } else if (kind === 'chat') {
        return sendJson(res, 200, { ...head, choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: finishReason }], usage: usage() });
      } else {
        return sendJson(res, 200, { ...head, choices: [{ index: 0, text: (extra.echo ?? '') + text, logprobs: logprobs === null ? null : tokenLogprobs, finish_reason: finishReason }], usage: usage() });
      }
      res.end('data: [DONE]\n\n');
    });
    // A client that goes away cancels its generation (res 'close' comes before 'finish' only then).
    res.on('close', () => {
      if (!res.writableFinished) scheduler.cancel(job);
    });
    if (generateOptions.maxNewTokens === 0) job.finish(); // max_tokens 0: nothing to generate (echo scoring)
    else scheduler.submit(job);
  };

  const chatCompletions = async (req: IncomingMessage, res: ServerResponse) => {
    const request = parseChatRequest(parseJsonBody(await readBody(req)));
    let prompt: number[];
    try {
      prompt = applyChatTemplate(tokenizer, request.messages, { addGenerationPrompt: true }).ids;
    } catch (err) {
      throw new ApiError(400, `messages: ${(err as Error).message}`, 'invalid_request_error', 'messages');
    }
    run(res, 'chat', request, prompt, generationOptions(prompt, request, 'messages'), {});
  };

  const completions = async (req: IncomingMessage, res: ServerResponse) => {
    const request = parseCompletionRequest(parseJsonBody(await readBody(req)));
    const prompt = tokenizer.encode(request.prompt);
    if (prompt.length === 0) throw badField('prompt', request.prompt, 'a non-empty string');
    if (request.stream && request.logprobs !== null) throw badField('logprobs', request.logprobs, 'null when streaming (log-probabilities come with non-streamed completions)');
    const promptLogprobs = request.echo && request.logprobs !== null ? promptTokenLogprobs(prompt, request.logprobs) : undefined;
    const options = { ...generationOptions(prompt, request, 'prompt'), keepLogits: request.logprobs !== null };
    run(res, 'completion', request, prompt, options, { echo: request.echo ? request.prompt : undefined, logprobs: request.logprobs, promptLogprobs });
  };

  /** log p of each prompt token given those before (null for the first), and the top k at each position. */
  const promptTokenLogprobs = (ids: number[], k: number): CompletionLogprobs => {
    const V = model.config.vocabSize;
    const all = floatValuesOf(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits); // [1, T, V]
    const logits = ids.map((_, t) => all.subarray(t * V, (t + 1) * V));
    const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    let offset = 0;
    ids.forEach((id, t) => {
      const token = tokenizer.decode([id]);
      const logp = t > 0 ? logSoftmax(logits[t - 1]!) : null;
      out.tokens.push(token);
      out.token_logprobs.push(logp ? logp[id]! : null);
      out.top_logprobs.push(logp ? topLogprobs(logp, k, tokenizer) : null);
      out.text_offset.push(offset);
      offset += token.length;
    });
    return out;
  };

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void> | void> = {
    'GET /': (_, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(chatPage({ modelName: options.modelName, parameters: model.parameterCount, context: maxSeq, needsKey: options.apiKey !== undefined }));
    },
    'GET /assets/markdown-it.min.js': (_, res) => {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'max-age=3600' });
      res.end(pageAsset('markdown-it'));
    },
    'GET /health': (_, res) => sendJson(res, 200, { status: 'ok', ...scheduler.load, tokens_generated: tokensGenerated }),
    'GET /v1/models': (_, res) => sendJson(res, 200, { object: 'list', data: [{ id: options.modelName, object: 'model', created, owned_by: 'tiny-llm-ts' }] }),
    'POST /v1/chat/completions': chatCompletions,
    'POST /v1/completions': completions,
  };

  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const handle = async () => {
      if (options.apiKey !== undefined && path.startsWith('/v1/') && req.headers.authorization !== `Bearer ${options.apiKey}`) {
        throw new ApiError(401, 'missing or wrong API key: send the header Authorization: Bearer <key> given to tinyllm serve --api-key', 'invalid_request_error', null, 'invalid_api_key');
      }
      const route = routes[`${req.method} ${path}`];
      if (!route) {
        const allowed = Object.keys(routes).filter((r) => r.endsWith(` ${path}`));
        if (allowed.length > 0) throw new ApiError(405, `${req.method} ${path}: use ${allowed.map((r) => r.split(' ')[0]).join(' or ')}`);
        throw new ApiError(404, `${req.method} ${path}: no such endpoint, expected one of ${Object.keys(routes).join(', ')}`, 'invalid_request_error', null, 'not_found');
      }
      await route(req, res);
    };
    handle().catch((err: unknown) => {
      const apiError = err instanceof ApiError ? err : new ApiError(500, `internal error: ${(err as Error).message}`, 'server_error');
      if (res.headersSent) return res.end();
      sendJson(res, apiError.status, apiError.body());
    });
  });
}

/** OpenAI's logprobs object of a completion choice. */
interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}
