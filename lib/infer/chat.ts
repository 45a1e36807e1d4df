// A conversation with a chat model: the history rendered with the chat template, a reply sampled and
// streamed until <|im_end|>, and the history kept within the model's context by forgetting the oldest
// exchanges (the system prompt stays). Behind `tinyllm chat` and, later, the server.
import type { LlamaModel } from '../model/model.js';
import { applyChatTemplate, type ChatMessage } from '../tokenizer/chat.js';
import { IM_END } from '../tokenizer/special.js';
import { TextStream } from '../tokenizer/text-stream.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { checkSamplingOptions, generate, type SampleOptions } from './sampling.js';

/** One reply: its text (without <|im_end|>), how many tokens it took, and why it ended. */
export interface ChatReply {
  reply: string;
  tokens: number;
  /** "stop": the model ended its message; "length": it hit maxTokens or the context. */
  finishReason: 'stop' | 'length';
}

/** Options of a chat session. */
export interface ChatSessionOptions {
  sampling: SampleOptions;
  /** Most tokens per reply. */
  maxTokens: number;
  /** Seed of the first reply; reply n uses seed + n, so a session replays exactly. */
  seed: number;
  system?: string;
  /** Ids that end a reply (default: <|im_end|>). */
  stopIds?: readonly number[];
}

/** A multi-turn conversation with a model. */
export class ChatSession {
  /** The exchanges so far (user and assistant messages), oldest first; the system prompt is apart. */
  readonly history: ChatMessage[] = [];
  system: string | null;
  private turns = 0;
  private readonly stopIds: readonly number[];

  constructor(readonly model: LlamaModel, readonly tokenizer: Tokenizer, readonly options: ChatSessionOptions) {
    checkSamplingOptions({ ...options.sampling, maxNewTokens: options.maxTokens, seed: options.seed });
    this.system = options.system ?? null;
    this.stopIds = options.stopIds ?? [tokenizer.specialId(IM_END)];
  }

  /** Forget the exchanges (the system prompt stays). */
  reset(): void {
    this.history.length = 0;
  }

  /** Answer `message`, calling onText with each piece of the reply as it is sampled. */
  reply(message: string, onText?: (text: string) => void): ChatReply {
    const { maxSeq } = this.model.config;
    const user: ChatMessage = { role: 'user', content: message };
    // Forget the oldest exchanges until the prompt leaves room for a full reply (or none are left).
    let prompt = this.prompt(user);
    while (prompt.length + this.options.maxTokens > maxSeq && this.history.length > 0) {
      this.history.splice(0, 2);
      prompt = this.prompt(user);
    }
    const room = maxSeq - prompt.length;
    if (room < 1) throw new Error(`message: ${prompt.length} tokens with the chat template, which leaves no room in the model's context of ${maxSeq}; send a shorter message`);
    const stream = new TextStream(this.tokenizer);
    const ids = generate(this.model, prompt, {
      ...this.options.sampling, maxNewTokens: Math.min(this.options.maxTokens, room), seed: this.options.seed + this.turns++,
      stopIds: this.stopIds, onToken: (id) => { const text = stream.push(id); if (text && onText) onText(text); },
    });
    const tail = stream.end();
    if (tail && onText) onText(tail);
    const stopped = ids.length > 0 && this.stopIds.includes(ids[ids.length - 1]!);
    const reply = this.tokenizer.decode(stopped ? ids.slice(0, -1) : ids, { skipSpecial: true });
    this.history.push(user, { role: 'assistant', content: reply });
    return { reply, tokens: ids.length, finishReason: stopped ? 'stop' : 'length' };
  }

  /** The prompt ids: system prompt, history, the new message, and the assistant's header. */
  private prompt(user: ChatMessage): number[] {
    const system: ChatMessage[] = this.system ? [{ role: 'system', content: this.system }] : [];
    return applyChatTemplate(this.tokenizer, [...system, ...this.history, user], { addGenerationPrompt: true }).ids;
  }
}
