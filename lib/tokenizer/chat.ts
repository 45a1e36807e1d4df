// The ChatML chat template, as minimind and Qwen use it:
//   <|im_start|>{role}\n{content}<|im_end|>\n   … and, to ask for a reply, <|im_start|>assistant\n
// Besides the ids it returns the mask of tokens an SFT loss trains on: each assistant message's
// content and its <|im_end|> (so the model learns to stop), never the prompt or the role header.
import { IM_END, IM_START } from './special.js';
import type { Tokenizer } from './tokenizer.js';

/** Who speaks. */
export type ChatRole = 'system' | 'user' | 'assistant';
/** One message of a conversation. */
export interface ChatMessage {
  role: ChatRole;
  content: string;
}
/** Options of applyChatTemplate. */
export interface ChatOptions {
  /** Append "<|im_start|>assistant\n" so that the model writes the next reply. */
  addGenerationPrompt?: boolean;
}
/** Ids of a rendered conversation and, per id, 1 where the SFT loss applies (assistant replies). */
export interface ChatEncoding {
  ids: number[];
  assistantMask: number[];
  /** Where each message's tokens end (its <|im_end|> and newline included): ids[0, messageEnds[i]) is messages 0…i. */
  messageEnds: number[];
}

const ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

/** The same template in Jinja, for tokenizer_config.json (transformers' apply_chat_template). */
export const CHAT_TEMPLATE_JINJA =
  "{%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}";

/** The conversation as text, exactly as the template renders it. */
export function renderChat(messages: readonly ChatMessage[], options: ChatOptions = {}): string {
  checkMessages(messages);
  const text = messages.map((m) => `${IM_START}${m.role}\n${m.content}${IM_END}\n`).join('');
  return options.addGenerationPrompt ? `${text}${IM_START}assistant\n` : text;
}

/**
 * Encode a conversation with the template. Message content is encoded as plain text: a user who types
 * "<|im_end|>" cannot end a message or fake a role. (Otherwise the ids equal encode(renderChat(…)).)
 */
export function applyChatTemplate(tokenizer: Tokenizer, messages: readonly ChatMessage[], options: ChatOptions = {}): ChatEncoding {
  checkMessages(messages);
  const imStart = tokenizer.specialId(IM_START);
  const imEnd = tokenizer.specialId(IM_END);
  const ids: number[] = [];
  const assistantMask: number[] = [];
  const messageEnds: number[] = [];
  const push = (id: number, trained: boolean) => {
    ids.push(id);
    assistantMask.push(trained ? 1 : 0);
  };
  for (const { role, content } of messages) {
    const trained = role === 'assistant';
    push(imStart, false);
    // Header and content are encoded together, as in the rendered text, so the ids match; a token
    // belongs to the content when it starts at or after the header's last byte.
    const header = `${role}\n`;
    let offset = -header.length; // the header is ASCII: one byte per character
    for (const id of tokenizer.encode(header + content, { specials: 'plain' })) {
      push(id, trained && offset >= 0);
      offset += tokenizer.model.tokenBytes(id).length;
    }
    push(imEnd, trained);
    for (const id of tokenizer.encode('\n')) push(id, false);
    messageEnds.push(ids.length);
  }
  if (options.addGenerationPrompt) {
    push(imStart, false);
    for (const id of tokenizer.encode('assistant\n')) push(id, false);
  }
  return { ids, assistantMask, messageEnds };
}

function checkMessages(messages: readonly ChatMessage[]): void {
  messages.forEach((m, i) => {
    if (!ROLES.includes(m.role)) throw new Error(`messages[${i}].role: '${String(m.role)}' is not a role, expected ${ROLES.join(', ')}`);
    if (typeof m.content !== 'string') throw new Error(`messages[${i}].content: expected a string`);
  });
}
