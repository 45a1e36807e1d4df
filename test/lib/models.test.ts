// The shipped models (datasets/models/, trained by the commands in datasets/README.md): they load from a
// fresh clone, the chat model answers in the SFT data's shape and stops, the base model only continues text.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const chat = (model: string, message: string, maxTokens: number) => {
  const run = spawnSync(process.execPath, ['lib/cli/tinyllm.js', 'chat', '--model', model, '--message', message, '--json', '--temperature', '0', '--max-tokens', String(maxTokens), '--backend', 'cpu'], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { reply: string; tokens: number; finish_reason: string };
};

describe('the shipped models', () => {
  it('chat: answers who it is, as its identity conversations taught it, and ends with <|im_end|>', () => {
    const answer = chat('datasets/models/chat', '你是谁？', 100);
    expect(answer.finish_reason).toBe('stop');
    expect(answer.reply).toMatch(/^我是 tiny-llm-ts 训练的一个小型中文语言模型/);
  });

  it('base: continues the prompt instead, without ending a reply', () => {
    const answer = chat('datasets/models/base', '你是谁？', 40);
    expect(answer.finish_reason).toBe('length');
    expect(answer.reply).not.toMatch(/tiny-llm-ts/);
  });
});
