// SFT data: the four record formats, the loss mask (exactly the assistant replies and their <|im_end|>),
// fitting long conversations at turn boundaries, the data directory and its padded batches.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConversationFlag, readConversation } from '../../../lib/data/conversations.js';
import { fitConversation, prepareSft, SftDataset, SftLoader } from '../../../lib/data/sft.js';
import { applyChatTemplate, type ChatMessage } from '../../../lib/tokenizer/chat.js';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';
import { IM_END } from '../../../lib/tokenizer/special.js';

const tokenizer = loadTokenizer('datasets/tokenizer');
const dir = mkdtempSync(join(tmpdir(), 'sft-'));

const conversation: ChatMessage[] = [
  { role: 'system', content: '你是一个乐于助人的助手。' },
  { role: 'user', content: '《静夜思》的作者是谁？' },
  { role: 'assistant', content: '《静夜思》是唐代诗人李白的作品。' },
  { role: 'user', content: 'Its first line?' },
  { role: 'assistant', content: '床前明月光，\n疑是地上霜。' },
];

/** The trained tokens' text, one piece per maximal run of mask 1. */
function trainedRuns(ids: number[], mask: number[]): string[] {
  const runs: number[][] = [];
  mask.forEach((m, i) => {
    if (m === 1 && (i === 0 || mask[i - 1] === 0)) runs.push([]);
    if (m === 1) runs[runs.length - 1]!.push(ids[i]!);
  });
  return runs.map((run) => tokenizer.decode(run));
}

describe('the SFT loss mask', () => {
  it('is 1 on exactly each assistant content and its <|im_end|>', () => {
    const { ids, assistantMask } = applyChatTemplate(tokenizer, conversation);
    expect(trainedRuns(ids, assistantMask)).toEqual([`《静夜思》是唐代诗人李白的作品。${IM_END}`, `床前明月光，\n疑是地上霜。${IM_END}`]);
    // Everything else is the prompt: system and user turns, role headers, and the newline after <|im_end|>.
    const untrained = ids.filter((_, i) => assistantMask[i] === 0);
    expect(tokenizer.decode(untrained)).toBe(
      '<|im_start|>system\n你是一个乐于助人的助手。<|im_end|>\n<|im_start|>user\n《静夜思》的作者是谁？<|im_end|>\n<|im_start|>assistant\n\n' +
      '<|im_start|>user\nIts first line?<|im_end|>\n<|im_start|>assistant\n\n');
  });

  it('is what `tinyllm tokenizer encode --chat … --json` prints; bad JSON or an unknown role is one line', () => {
    const cli = (chat: string) => spawnSync(process.execPath, ['lib/cli/tinyllm.js', 'tokenizer', 'encode', '--tokenizer', 'datasets/tokenizer', '--chat', chat, '--json'], { encoding: 'utf8' });
    const run = cli(JSON.stringify(conversation));
    expect(run.status, run.stderr).toBe(0);
    const { ids, mask } = JSON.parse(run.stdout) as { ids: number[]; mask: number[] };
    const expected = applyChatTemplate(tokenizer, conversation);
    expect({ ids, mask }).toEqual({ ids: expected.ids, mask: expected.assistantMask });
    expect(trainedRuns(ids, mask)).toEqual([`《静夜思》是唐代诗人李白的作品。${IM_END}`, `床前明月光，\n疑是地上霜。${IM_END}`]);
    const badRole = cli('[{"role": "bot", "content": "hi"}]');
    expect(badRole.status).toBe(1);
    expect(badRole.stderr).toBe('tinyllm: --chat: conversations[0].role: "bot", expected one of system, user, assistant\n');
    const badJson = cli('[{"role": "user"');
    expect(badJson.status).toBe(1);
    expect(badJson.stderr.trim().split('\n')).toHaveLength(1);
    expect(badJson.stderr).toMatch(/^tinyllm: --chat: not valid JSON \(.*\), expected a list of \{"role", "content"\} messages\n$/);
  });
});

describe('SFT record formats', () => {
  it('reads minimind, ShareGPT, tiny-llm-zh and Alpaca records into the same messages', () => {
    const qa: ChatMessage[] = [{ role: 'system', content: 'S' }, { role: 'user', content: 'Q' }, { role: 'assistant', content: 'A' }];
    expect(readConversation({ conversations: qa })).toEqual(qa);
    expect(readConversation({ conversations: [{ from: 'system', value: 'S' }, { from: 'human', value: 'Q' }, { from: 'gpt', value: 'A' }] })).toEqual(qa);
    expect(readConversation({ system: 'S', question: 'Q', answer: 'A' })).toEqual(qa);
    expect(readConversation({ question: 'Q', answer: 'A' })).toEqual(qa.slice(1));
    expect(readConversation({ system: 'S', instruction: 'Q', input: '', output: 'A' })).toEqual(qa);
    expect(readConversation({ instruction: 'Translate:', input: '猫', output: 'cat' })).toEqual([{ role: 'user', content: 'Translate:\n猫' }, { role: 'assistant', content: 'cat' }]);
  });

  it.each([
    [[1, 2], 'record: a list, expected a JSON object'],
    [{ text: 'x' }, 'record: fields ["text"], expected "conversations", "question"/"answer" or "instruction"/"output"'],
    [{ conversations: [] }, 'conversations: empty, expected at least a user and an assistant message'],
    [{ conversations: 'hi' }, 'conversations: string "hi", expected a list of messages'],
    [{ conversations: [{ role: 'robot', content: 'x' }] }, 'conversations[0].role: "robot", expected one of system, user, assistant'],
    [{ conversations: [{ from: 'bot', value: 'x' }] }, 'conversations[0].from: "bot", expected one of system, human, user, gpt, assistant'],
    [{ conversations: [{ role: 'user', content: 3 }] }, 'conversations[0].content: number 3, expected a string'],
    [{ conversations: [{ role: 'user', content: 'q' }] }, 'conversations[0].role: "user" is last, expected the conversation to end with an assistant message'],
    [{ conversations: [{ role: 'user', content: 'q' }, { role: 'system', content: 's' }, { role: 'assistant', content: 'a' }] }, 'conversations[1].role: "system" after the first message, expected the system prompt first'],
    [{ question: 'q' }, 'answer: missing, expected a string'],
    [{ question: 'q', answer: '  ' }, 'answer: empty, expected some text'],
    [{ instruction: 'q', input: 5, output: 'a' }, 'input: number 5, expected a string'],
  ])('rejects %j: %s', (record, message) => {
    expect(() => readConversation(record)).toThrow(message);
  });

  it('takes a list of messages or a whole record on the command line', () => {
    expect(parseConversationFlag('[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]', '--chat')).toHaveLength(2);
    expect(parseConversationFlag('{"question": "q", "answer": "a"}', '--chat')).toHaveLength(2);
  });
});

describe('fitting a conversation into --seq', () => {
  const encoding = applyChatTemplate(tokenizer, conversation);
  const firstEnd = encoding.messageEnds[2]!;

  it('keeps it whole when it fits, else whole turns up to the last assistant reply that fits, else nothing', () => {
    expect(fitConversation(conversation, encoding, encoding.ids.length - 1)).toMatchObject({ cut: false, ids: encoding.ids });
    const cut = fitConversation(conversation, encoding, encoding.ids.length - 2)!;
    expect(cut.cut).toBe(true);
    expect(cut.ids).toEqual(encoding.ids.slice(0, firstEnd));
    expect(tokenizer.decode(cut.ids)).toMatch(/李白的作品。<\|im_end\|>\n$/); // never a reply without its <|im_end|>
    expect(fitConversation(conversation, encoding, firstEnd - 2)).toBeNull();
  });
});

describe('SFT data directories and batches', () => {
  const records = [
    JSON.stringify({ conversations: conversation }),
    JSON.stringify({ question: '你是谁？', answer: '我是一个小型语言模型。' }),
    '{"conversations": [{"role": "robot", "content": "x"}]}',
    JSON.stringify({ instruction: '写一个字', output: '好' }),
    JSON.stringify({ conversations: [{ from: 'human', value: 'x'.repeat(400) }, { from: 'gpt', value: 'y' }] }),
    JSON.stringify({ question: '一加一？', answer: '二。' }),
  ];

  it('writes ids and masks per split and counts what it kept, cut and skipped', async () => {
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, `${records.join('\n')}\n`);
    const out = join(dir, 'data');
    const index = await prepareSft({ files: [input], tokenizer, out, seq: 60, valFraction: 0.25 }); // the 5-message conversation: 80 ids, its first exchange 52
    expect(index.report).toEqual({ records: 5, kept: 4, cut: 1, tooLong: 1, malformed: 1 });
    expect(index.sources[0]!.malformedExamples).toEqual([`${input}:3: conversations[0].role: "robot", expected one of system, user, assistant`]);
    expect([index.train.examples, index.val.examples]).toEqual([3, 1]);
    const train = new SftDataset(out, 'train');
    for (let i = 0; i < train.length; i++) {
      const { ids, mask } = train.get(i);
      expect(ids.length).toBeLessThanOrEqual(61);
      expect(trainedRuns(Array.from(ids), Array.from(mask)).every((run) => run.endsWith(IM_END))).toBe(true);
    }
    train.close();
    await expect(prepareSft({ files: [input], tokenizer, out, seq: 40 })).rejects.toThrow(`${out}: already holds shards (index.json)`);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"conversations": []}\n');
    await expect(prepareSft({ files: [bad], tokenizer, out: join(dir, 'none'), seq: 40 })).rejects.toThrow('nothing to train on (1 malformed record(s), 0 longer than --seq 40), expected SFT records');
    expect(existsSync(join(dir, 'none'))).toBe(false);
  });

  it('pads batches on the right with weight 0, weighting each target by the mask of the token it predicts', async () => {
    const input = join(dir, 'pad.jsonl');
    writeFileSync(input, `${records.join('\n')}\n`);
    const out = join(dir, 'pad');
    await prepareSft({ files: [input], tokenizer, out, seq: 64, valFraction: 0 });
    const data = new SftDataset(out, 'train');
    const loader = new SftLoader(data, 2, 64, 0, false);
    const batch = loader.next();
    const T = batch.inputs.length / 2;
    expect(T % 32 === 0 || T === 64).toBe(true);
    for (let b = 0; b < 2; b++) {
      const { ids, mask } = data.get(b);
      const n = ids.length - 1;
      expect(Array.from(batch.inputs.subarray(b * T, b * T + n))).toEqual(Array.from(ids.subarray(0, n)));
      expect(Array.from(batch.targets.subarray(b * T, b * T + n))).toEqual(Array.from(ids.subarray(1)));
      expect(Array.from(batch.weights!.subarray(b * T, b * T + n))).toEqual(Array.from(mask.subarray(1)));
      expect(batch.weights!.subarray(b * T + n, (b + 1) * T).every((w) => w === 0)).toBe(true);
      expect(batch.inputs.subarray(b * T + n, (b + 1) * T).every((id) => id === tokenizer.specialId('<|endoftext|>'))).toBe(true);
    }
    // The same position gives the same batches: what resume relies on.
    const shuffled = new SftLoader(data, 2, 64, 7), again = new SftLoader(data, 2, 64, 7);
    shuffled.next();
    again.seek(shuffled.position);
    expect(again.next()).toEqual(shuffled.next());
    // skipBatch() moves past a batch as next() does, without reading it (another rank's, in data-parallel training).
    const skipping = new SftLoader(data, 2, 64, 7), reading = new SftLoader(data, 2, 64, 7);
    skipping.skipBatch();
    reading.next();
    expect(skipping.position).toEqual(reading.position);
    expect(skipping.next()).toEqual(reading.next());
    expect(() => new SftLoader(data, 2, 32)).toThrow(`${out}: prepared for --seq 64, longer than --seq 32 here; prepare it again with --seq 32`);
    expect(() => new SftLoader(data, 9, 64)).toThrow('has 4 example(s), fewer than the batch of 9');
    data.close();
  });

  it('groups examples of similar length into batches: every example once per epoch, little padding', async () => {
    const out = join(dir, 'shipped-val');
    const index = await prepareSft({ files: ['datasets/sft/val.jsonl.gz'], tokenizer, out, seq: 512, valFraction: 0 });
    expect(index.train.examples).toBe(477);
    const data = new SftDataset(out, 'train');
    const loader = new SftLoader(data, 9, 512, 1); // 53 batches of 9: one epoch exactly
    let trained = 0, positions = 0;
    for (let b = 0; b < 53; b++) {
      const batch = loader.next();
      trained += batch.weights!.reduce((a, w) => a + w, 0);
      positions += batch.inputs.length;
    }
    expect(loader.position).toEqual({ epoch: 0, cursor: 477 });
    expect(trained).toBe(index.train.trained); // each example once (mask[0], <|im_start|>, is never trained)
    const predicted = index.train.tokens - index.train.examples;
    expect(predicted / positions).toBeGreaterThan(0.75); // ~0.4 when batches mix lengths at random
    data.close();
  });
});
