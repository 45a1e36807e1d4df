import { describe, expect, it } from 'vitest';
import { Rng } from '../../../lib/rng.js';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';
import { TextStream } from '../../../lib/tokenizer/text-stream.js';

const tokenizer = loadTokenizer('datasets/tokenizer');
const hex = (ids: number[]) => Array.from(tokenizer.decodeBytes(ids), (b) => b.toString(16)).join(' ');

/** What each push returns, fed one id at a time, and then end(). */
function streamed(ids: number[]): { pieces: string[]; rest: string } {
  const stream = new TextStream(tokenizer);
  const pieces = ids.map((id) => stream.push(id));
  return { pieces, rest: stream.end() };
}

describe('TextStream', () => {
  it('holds back a character that a token ends in the middle of, and emits it with the next token', () => {
    const text = '床前明月光，疑是地上霜。';
    const ids = tokenizer.encode(text);
    // The shipped tokenizer cuts 疑 (e7 96 91): one token is '，' plus its first two bytes.
    const i = ids.findIndex((id) => hex([id]) === 'ef bc 8c e7 96');
    expect(i, 'a token ending mid-character').toBeGreaterThan(0);
    expect(hex([ids[i + 1]!])).toBe('91');
    expect(tokenizer.decode([ids[i]!])).toBe('，\uFFFD'); // what decoding token by token would print
    const { pieces, rest } = streamed(ids);
    expect(pieces.slice(i, i + 2)).toEqual(['，', '疑']);
    expect(pieces.join('') + rest).toBe(text);
    expect(pieces.join('')).not.toContain('\uFFFD');
    expect(rest).toBe('');
  });

  it('streams an emoji of four byte tokens as one character after the fourth', () => {
    const ids = tokenizer.encode('饕餮🤖机器人');
    const robot = tokenizer.encode('🤖');
    expect(robot.map((id) => hex([id]))).toEqual(['f0', '9f', 'a4', '96']);
    const { pieces, rest } = streamed(ids);
    expect(pieces.join('') + rest).toBe('饕餮🤖机器人');
    const at = ids.indexOf(robot[0]!);
    expect(pieces.slice(at, at + 4)).toEqual(['', '', '', '🤖']);
    expect(pieces.join('')).not.toContain('\uFFFD');
  });

  it('does not print special tokens, even between the bytes of one character', () => {
    const ids = tokenizer.encode('你好<|endoftext|>世界<|im_end|>');
    const eot = tokenizer.specialId('<|endoftext|>');
    const imEnd = tokenizer.specialId('<|im_end|>');
    expect(ids).toContain(eot);
    expect(ids[ids.length - 1]).toBe(imEnd);
    const { pieces, rest } = streamed(ids);
    expect(pieces[ids.indexOf(eot)]).toBe('');
    expect(pieces.join('') + rest).toBe('你好世界');
    const [f0, x9f, a4, x96] = tokenizer.encode('🤖');
    expect(new TextStream(tokenizer).push([f0!, x9f!, eot, a4!, imEnd, x96!])).toBe('🤖');
  });

  it('drops a cut-off character at the end instead of printing U+FFFD, and can then start again', () => {
    const ids = [...tokenizer.encode('你好'), ...tokenizer.encode('🤖').slice(0, 3)];
    expect(tokenizer.decode(ids)).toBe('你好\uFFFD');
    const stream = new TextStream(tokenizer);
    expect(stream.push(ids)).toBe('你好');
    expect(stream.end()).toBe('');
    // The dropped bytes do not leak into the next stream.
    expect(stream.push(tokenizer.encode('世界'))).toBe('世界');
    expect(stream.end()).toBe('');
  });

  it('over random ids, prints what decode() gives for the whole sequence (invalid bytes as U+FFFD there too)', () => {
    const rng = new Rng(1);
    const a = tokenizer.encode('a')[0]!;
    for (let trial = 0; trial < 200; trial++) {
      // Byte tokens half the time, so that characters are cut often; an ASCII token last closes any tail.
      const ids = Array.from({ length: 1 + rng.int(12) }, () => (rng.next() < 0.5 ? rng.int(260) : rng.int(tokenizer.vocabSize)));
      ids.push(a);
      const { pieces, rest } = streamed(ids);
      expect(pieces.join('') + rest, `ids ${ids.join(',')}`).toBe(tokenizer.decode(ids, { skipSpecial: true }));
    }
  });
});
