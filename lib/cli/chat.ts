// `tinyllm chat`: talk to a chat model — an interactive session that streams each reply as it is
// sampled, or one answer to --message for scripts.
import { optionValue, requiredFlag, stringFlag } from './args.js';
import { ADAPTER_OPTION, BACKEND_OPTION, type Command } from './command.js';
import { SAMPLING_OPTIONS, samplingFlags } from './sampling-flags.js';

export const chatCommand: Command = {
  summary: 'chat with a model: replies stream as they are sampled; /reset, /system <text>, /exit',
  options: [
    { name: 'model', value: '<dir>', required: true, help: 'model directory with its tokenizer (e.g. datasets/models/chat, or an SFT run\'s final/)' },
    ADAPTER_OPTION,
    { name: 'system', value: '<text>', help: 'system prompt for the conversation' },
    { name: 'message', value: '<text>', help: 'answer this one message and exit (no interactive session)' },
    { name: 'json', help: 'with --message: print {"reply", "tokens", "finish_reason"} instead of streaming the reply' },
    ...SAMPLING_OPTIONS,
    BACKEND_OPTION,
  ],
  notes: () => [
    'Each reply ends at <|im_end|> (finish_reason "stop") or after --max-tokens ("length"). The conversation',
    "is kept as long as it fits the model's context; then the oldest exchanges are forgotten (the system",
    'prompt stays). In a session: /reset forgets the conversation, /system <text> sets the system prompt',
    '(/system alone removes it), /exit or Ctrl-D ends.',
  ],
  async run(args) {
    const dir = requiredFlag(args, 'model');
    const message = stringFlag(args, 'message');
    const json = args.flags.has('json');
    if (json && message === undefined) throw new Error('--json: only with --message');
    if (message !== undefined && message.trim() === '') throw new Error('--message: empty, expected some text');
    const { sampling, maxTokens, seed } = samplingFlags(args);

    const { initBackend, parseBackendName } = await import('../backend/init.js');
    const { readEosIds } = await import('../io/model-dir.js');
    const { loadModelWithAdapter } = await import('../io/peft.js');
    const { ChatSession } = await import('../infer/chat.js');
    const { defaultStopIds } = await import('../infer/sampling.js');
    await initBackend(parseBackendName(optionValue(args, BACKEND_OPTION)!), { quiet: true });
    const { model, tokenizer } = loadModelWithAdapter(dir, stringFlag(args, 'adapter'));
    try {
      if (!tokenizer) throw new Error(`${dir}: no tokenizer.json, expected a model directory with its tokenizer`);
      const session = new ChatSession(model, tokenizer, { sampling, maxTokens, seed, system: stringFlag(args, 'system'), stopIds: readEosIds(dir) ?? defaultStopIds(tokenizer) });
      if (message !== undefined) {
        const write = (text: string) => process.stdout.write(text);
        const answer = session.reply(message, json ? undefined : write);
        if (json) console.log(JSON.stringify({ reply: answer.reply, tokens: answer.tokens, finish_reason: answer.finishReason }));
        else write('\n');
        return;
      }
      await interactive(session);
    } finally {
      model.dispose();
    }
  },
};

/** The read–reply loop on the terminal (or on piped lines). */
async function interactive(session: import('../infer/chat.js').ChatSession): Promise<void> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true });
  console.log(`chatting with ${session.model.parameterCount.toLocaleString('en-US')} parameters (context ${session.model.config.maxSeq} tokens); /reset, /system <text>, /exit`);
  try {
    for (;;) {
      let line: string;
      try {
        line = (await rl.question('> ')).trim();
      } catch {
        break; // Ctrl-D or the end of piped input
      }
      if (line === '') continue;
      if (line === '/exit' || line === '/quit') break;
      if (line === '/reset') {
        session.reset();
        console.log('(conversation forgotten)');
        continue;
      }
      if (line === '/system' || line.startsWith('/system ')) {
        session.system = line.slice('/system'.length).trim() || null;
        console.log(session.system ? `(system prompt: ${session.system})` : '(no system prompt)');
        continue;
      }
      const answer = session.reply(line, (text) => process.stdout.write(text));
      process.stdout.write(answer.finishReason === 'length' ? ' […]\n' : '\n');
    }
  } finally {
    rl.close();
  }
}
