// Exercise 08 tests: run against your work with `npm run check -- 08`.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { chatTemplate, maskedMeanLoss, padBatch, type Message } from '@exercise/08-sft.js';
import { initBackend } from '../../lib/backend/init.js';
import { readConversation } from '../../lib/data/conversations.js';
import { prepareSft, SftDataset, SftLoader } from '../../lib/data/sft.js';
import { presetConfig } from '../../lib/model/config.js';
import { LlamaModel } from '../../lib/model/model.js';
import { applyChatTemplate } from '../../lib/tokenizer/chat.js';
import { loadTokenizer } from '../../lib/tokenizer/files.js';
import { IM_END, IM_START } from '../../lib/tokenizer/special.js';
import { batchTensors } from '../../lib/train/step.js';

await initBackend('cpu', { quiet: true });

const tokenizer = loadTokenizer('datasets/tokenizer');
const specials = { imStart: tokenizer.specialId(IM_START), imEnd: tokenizer.specialId(IM_END) };
const encode = (text: string) => tokenizer.encode(text, { specials: 'plain' });
// The shipped validation conversations: a fifth are multi-turn, a fifth open with a system prompt.
const valFile = 'datasets/sft/val.jsonl.gz';
const conversations = gunzipSync(readFileSync(valFile)).toString('utf8').split('\n').filter((l) => l !== '').map((l) => readConversation(JSON.parse(l)));
const dir = mkdtempSync(join(tmpdir(), 'exercise-08-'));

beforeAll(async () => {
  await prepareSft({ files: [valFile], tokenizer, out: join(dir, 'sft'), seq: 128, valFraction: 0.1 });
});

describe('chatTemplate', () => {
  it('renders each message as <|im_start|>role⏎content<|im_end|>⏎ and masks the assistant content and its <|im_end|>', () => {
    // One id per character (its code point) and 1, 2 for the specials, so every id can be read.
    const chars = (text: string) => [...text].map((c) => c.codePointAt(0)!);
    const { ids, mask } = chatTemplate([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }], { imStart: 1, imEnd: 2 }, chars);
    expect(ids).toEqual([1, ...chars('user\nhi'), 2, 10, 1, ...chars('assistant\nyo'), 2, 10]);
    const zeros = (n: number) => Array<number>(n).fill(0);
    expect(mask).toEqual([...zeros(10), ...zeros(11), 1, 1, 1, 0]); // the user's message; the assistant's header; 'yo' and <|im_end|>; '\n'
  });

  it('agrees with applyChatTemplate on a multi-turn conversation with a system prompt', () => {
    const conversation: Message[] = [
      { role: 'system', content: '你是一个乐于助人的助手。' },
      { role: 'user', content: '《静夜思》的作者是谁？' },
      { role: 'assistant', content: '《静夜思》是唐代诗人李白的作品。' },
      { role: 'user', content: 'Its first line?' },
      { role: 'assistant', content: '床前明月光，\n疑是地上霜。' },
    ];
    const expected = applyChatTemplate(tokenizer, conversation);
    expect(chatTemplate(conversation, specials, encode)).toEqual({ ids: expected.ids, mask: expected.assistantMask });
  });

  it('agrees with applyChatTemplate on every conversation of datasets/sft/val (multi-turn, system prompts)', () => {
    const hard = conversations.filter((c) => c[0]!.role === 'system' && c.length > 3);
    expect(hard.length).toBeGreaterThan(5);
    for (const conversation of conversations) {
      const expected = applyChatTemplate(tokenizer, conversation);
      expect(chatTemplate(conversation, specials, encode)).toEqual({ ids: expected.ids, mask: expected.assistantMask });
    }
  });
});

describe('maskedMeanLoss', () => {
  it('averages −log p over the weighted tokens only', () => {
    expect(maskedMeanLoss([[Math.log(0.5), Math.log(0.25), Math.log(0.1)]], [[1, 1, 0]])).toBeCloseTo(1.5 * Math.log(2), 12);
    // Two rows, fractional weights: (0.5·ln 2 + 2·ln 8) / 2.5
    expect(maskedMeanLoss([[Math.log(0.5), -7], [Math.log(0.125), 0]], [[0.5, 0], [2, 0]])).toBeCloseTo((0.5 * Math.log(2) + 2 * Math.log(8)) / 2.5, 12);
    expect(maskedMeanLoss([[-1, -2]], [[0, 0]])).toBe(0);
  });

  it("agrees with model.loss(inputs, targets, weights) on a padded SFT batch, from the model's tokenLogProbs", () => {
    const model = LlamaModel.create(presetConfig('nano', { vocabSize: tokenizer.vocabSize, hidden: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, maxSeq: 128 }), 3);
    const data = new SftDataset(join(dir, 'sft'), 'train');
    const loader = new SftLoader(data, 4, 128, 1);
    for (let k = 0; k < 2; k++) {
      const { inputs, targets, weights } = batchTensors(loader.next(), 4);
      const logProbs = model.tokenLogProbs(inputs, targets);
      const loss = model.loss(inputs, targets, weights);
      const mine = maskedMeanLoss(logProbs.arraySync(), weights!.arraySync() as number[][]);
      expect(mine).toBeCloseTo(loss.dataSync()[0]!, 4);
      tf.dispose([inputs, targets, weights!, logProbs, loss]);
    }
    data.close();
    model.dispose();
  });
});

describe('padBatch', () => {
  it('shifts each example into inputs and targets, takes the mask of the predicted token, and pads on the right', () => {
    const batch = padBatch([{ ids: [5, 6, 7, 8], mask: [0, 0, 1, 1] }, { ids: [9, 10], mask: [0, 1] }], 0, 4);
    expect(batch).toEqual({
      inputs: [[5, 6, 7, 0], [9, 0, 0, 0]],
      targets: [[6, 7, 8, 0], [10, 0, 0, 0]],
      weights: [[0, 1, 1, 0], [1, 0, 0, 0]],
    });
  });

  it("gives SftLoader's batches from the same examples", () => {
    const data = new SftDataset(join(dir, 'sft'), 'train');
    const loader = new SftLoader(data, 4, 128, 0, false); // in order: batch k holds examples 4k … 4k + 3
    for (let k = 0; k < 6; k++) {
      const batch = loader.next();
      const examples = [0, 1, 2, 3].map((b) => {
        const { ids, mask } = data.get(4 * k + b);
        return { ids: Array.from(ids), mask: Array.from(mask) };
      });
      const mine = padBatch(examples, data.index.pad, batch.inputs.length / 4);
      expect(mine.inputs.flat()).toEqual(Array.from(batch.inputs));
      expect(mine.targets.flat()).toEqual(Array.from(batch.targets));
      expect(mine.weights.flat()).toEqual(Array.from(batch.weights!));
    }
    data.close();
  });
});
