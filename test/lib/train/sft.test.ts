// Supervised fine-tuning end to end on the CPU: a model learns to answer the training questions and
// to stop with <|im_end|>, its assistant-token loss falls, `tinyllm sft` resumes exactly, and
// `tinyllm chat --message` answers from the result.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { prepareSft } from '../../../lib/data/sft.js';
import { ChatSession } from '../../../lib/infer/chat.js';
import { saveModelDir } from '../../../lib/io/model-dir.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';
import { train } from '../../../lib/train/loop.js';

await initBackend('wasm', { quiet: true });

const dir = mkdtempSync(join(tmpdir(), 'sft-run-'));
const tokenizer = loadTokenizer('datasets/tokenizer');
const base = join(dir, 'base');
const data = join(dir, 'data');

const PAIRS: [string, string][] = [
  ['《静夜思》的作者是谁？', '李白。'], ['《春晓》的作者是谁？', '孟浩然。'], ['ls 命令是做什么的？', '列出目录内容。'],
  ['你是谁？', '我是一个小型语言模型。'], ['一加一等于几？', '二。'], ['Who wrote Moby-Dick?', 'Herman Melville.'],
  ['床前明月光的下一句？', '疑是地上霜。'], ['cp 命令是做什么的？', '复制文件。'],
];

beforeAll(async () => {
  const records = PAIRS.map(([q, a], i) => JSON.stringify(i % 3 === 0 ? { system: '请简洁地回答。', question: q, answer: a } : { question: q, answer: a }));
  writeFileSync(join(dir, 'train.jsonl'), `${records.join('\n')}\n`);
  writeFileSync(join(dir, 'val.jsonl'), `${records.slice(0, 4).join('\n')}\n`);
  await prepareSft({ files: [join(dir, 'train.jsonl')], valFiles: [join(dir, 'val.jsonl')], tokenizer, out: data, seq: 64 });
  // A fresh small model stands in for the pretrained base: SFT must teach it the answers and the stop token.
  const model = LlamaModel.create(presetConfig('nano', { vocabSize: tokenizer.vocabSize, hidden: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, maxSeq: 128 }), 5);
  saveModelDir(model, base, { tokenizer });
  model.dispose();
});

const settings = (out: string, extra = {}) => ({ data, out, init: base, batch: 4, lr: 3e-3, warmup: 5, evalEvery: 0, saveEvery: 0, ...extra });

describe('supervised fine-tuning', () => {
  it('learns the answers: the assistant-token loss falls, and greedy replies end with <|im_end|>', async () => {
    const run = await train(settings(join(dir, 'learn'), { steps: 120, evalEvery: 60, evalBatches: 1 }));
    const first = run.history[0]!.loss, last = run.history.slice(-5).reduce((a, m) => a + m.loss, 0) / 5;
    expect(last).toBeLessThan(first / 5);
    expect(run.history[119]!.val_loss!).toBeLessThan(run.initialValLoss! / 5);
    const session = new ChatSession(run.model, run.tokenizer, { sampling: { temperature: 0 }, maxTokens: 24, seed: 0 });
    const replies = PAIRS.map(([q]) => {
      session.reset();
      return session.reply(q);
    });
    expect(replies.map((r) => r.finishReason)).toEqual(PAIRS.map(() => 'stop'));
    const right = replies.filter((r, i) => r.reply === PAIRS[i]![1]).length;
    expect(right).toBeGreaterThanOrEqual(6);
    // final/ is a chat model directory: weights, tokenizer and its chat template.
    expect(JSON.parse(readFileSync(join(dir, 'learn', 'final', 'tokenizer_config.json'), 'utf8')).chat_template).toContain('<|im_start|>');
    run.model.dispose();
  });

  it('`tinyllm sft` resumes exactly after a crash, and `tinyllm chat --message` answers from its final model', () => {
    const cli = (...argv: string[]) => spawnSync(process.execPath, ['lib/cli/tinyllm.js', ...argv], { encoding: 'utf8' });
    const args = (out: string, steps: number) => ['sft', '--model', base, '--data', data, '--out', out, '--steps', String(steps), '--batch', '4', '--lr', '3e-3', '--warmup', '2', '--eval-every', '0', '--backend', 'wasm'];
    const out = join(dir, 'cli');
    const straight = cli(...args(out, 8), '--save-every', '4');
    expect(straight.status, straight.stderr).toBe(0);
    expect(straight.stdout).toMatch(/^sft: new run in .*; ≤ 256 tokens\/step, 8 steps$/m);
    const metrics = () => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => ({ ...JSON.parse(l), tok_s: 0 }));
    const [wholeMetrics, wholeWeights] = [metrics(), readFileSync(join(out, 'final', 'model.safetensors'))];
    // A crash after the checkpoint of step 4: the later checkpoint and final/ never got written.
    rmSync(join(out, 'step-000008'), { recursive: true });
    rmSync(join(out, 'final'), { recursive: true });
    const resumed = cli(...args(out, 8), '--save-every', '4', '--resume');
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/^sft: resuming in /m);
    expect(metrics()).toEqual(wholeMetrics); // steps 5–8 again, bit for bit
    expect(readFileSync(join(out, 'final', 'model.safetensors'))).toEqual(wholeWeights);

    const chat = cli('chat', '--model', join(out, 'final'), '--message', '你是谁？', '--json', '--max-tokens', '5', '--backend', 'wasm');
    expect(chat.status, chat.stderr).toBe(0);
    expect(JSON.parse(chat.stdout)).toEqual({ reply: expect.any(String), tokens: expect.any(Number), finish_reason: expect.stringMatching(/^(stop|length)$/) });
    const noModel = cli('chat', '--message', 'hi');
    expect(noModel.stderr).toBe('tinyllm: --model: missing, expected --model <dir>\n');
  });

  it('`tinyllm sft --lora` trains an adapter alone, resumes exactly, and merges into a model that answers the same', () => {
    const cli = (...argv: string[]) => spawnSync(process.execPath, ['lib/cli/tinyllm.js', ...argv], { encoding: 'utf8' });
    const out = join(dir, 'lora');
    const args = ['sft', '--model', base, '--data', data, '--out', out, '--steps', '40', '--batch', '4', '--lr', '1e-2', '--warmup', '2', '--eval-every', '0', '--save-every', '20', '--backend', 'wasm', '--lora', '8', '--lora-dropout', '0.05'];
    const run = cli(...args);
    expect(run.status, run.stderr).toBe(0);
    expect(readdirSync(join(out, 'final')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    const config = JSON.parse(readFileSync(join(out, 'final', 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16, lora_dropout: 0.05, base_model_name_or_path: base, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] });
    // Dropout masks included, the run continues exactly after a crash past the checkpoint of step 20.
    const metrics = () => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => ({ ...JSON.parse(l), tok_s: 0 }));
    const [whole, weights] = [metrics(), readFileSync(join(out, 'final', 'adapter_model.safetensors'))];
    expect(whole[39].loss).toBeLessThan(whole[0].loss - 0.5); // a frozen random base: the adapter alone moves it
    rmSync(join(out, 'step-000040'), { recursive: true });
    rmSync(join(out, 'final'), { recursive: true });
    const resumed = cli(...args, '--resume');
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(metrics()).toEqual(whole);
    expect(readFileSync(join(out, 'final', 'adapter_model.safetensors'))).toEqual(weights);

    const ask = (...model: string[]) => {
      const r = cli('chat', ...model, '--message', PAIRS[0]![0], '--json', '--temperature', '0', '--max-tokens', '12', '--backend', 'wasm');
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { reply: string };
    };
    const merged = cli('lora', 'merge', '--model', base, '--adapter', join(out, 'final'), '--out', join(dir, 'merged'), '--backend', 'wasm');
    expect(merged.status, merged.stderr).toBe(0);
    expect(merged.stdout).toBe(`wrote ${join(dir, 'merged')}: 14 projections merged\n`); // 7 targets in each of 2 layers
    const withAdapter = ask('--model', base, '--adapter', join(out, 'final'));
    expect(ask('--model', join(out, 'final'))).toEqual(withAdapter); // the adapter dir alone finds its base
    expect(ask('--model', join(dir, 'merged'))).toEqual(withAdapter);
    expect(ask('--model', base)).not.toEqual(withAdapter);
  });
});
