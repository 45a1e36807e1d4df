// Few-shot prompts that do not fit the context lose worked examples as CMMLU's script drops them: every
// shot of the longest length at a time, until the shots' token counts add up to less than the room the
// prompt without shots leaves.
import { describe, expect, it } from 'vitest';
import { mcqPrompt, mcqQuestion, shotsThatFit } from '../../../lib/eval/mcq.js';
import type { McqItem } from '../../../lib/eval/mcq-data.js';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';

const tokenizer = loadTokenizer('datasets/tokenizer');
const encode = (text: string) => tokenizer.encode(text);
const item = (question: string, answer: 'A' | 'B' | 'C' | 'D' | null = 'A'): McqItem => ({ file: 'x.csv', line: 2, id: '0', question, options: ['甲', '乙', '丙', '丁'], answer });
const question = item('下列哪一项是正确的？', null);
const long = item('长'.repeat(60) + '的问题是哪一个？');
const short1 = item('一加一等于几？', 'B');
const short2 = item('二加二等于几？', 'C'); // as many tokens as short1
const tokens = (shot: McqItem) => encode(mcqQuestion(shot, true)).length;

describe('shotsThatFit', () => {
  const base = encode(mcqPrompt('数学', question, [])).length;

  it('keeps every shot when they fit, in their order', () => {
    expect(shotsThatFit(tokenizer, encode, '数学', question, [long, short1, short2], 512)).toEqual([long, short1, short2]);
  });

  it('drops the longest shot first, wherever it stands (not the last one)', () => {
    expect(tokens(long)).toBeGreaterThan(tokens(short1));
    expect(tokens(short1)).toBe(tokens(short2));
    const maxSeq = base + tokens(short1) + tokens(short2) + 1; // room for the two short ones only
    expect(shotsThatFit(tokenizer, encode, '数学', question, [long, short1, short2], maxSeq)).toEqual([short1, short2]);
  });

  it('drops all shots of the longest length together, as CMMLU does, and needs a token to spare', () => {
    const maxSeq = base + tokens(short1) + tokens(short2); // the sum must stay below the room: both go
    expect(shotsThatFit(tokenizer, encode, '数学', question, [long, short1, short2], maxSeq)).toEqual([]);
  });
});
