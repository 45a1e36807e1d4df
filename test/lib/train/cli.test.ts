// `tinyllm data prepare` and `tinyllm train` as a user runs them: flags, messages, Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'train-cli-'));
const data = join(dir, 'data');

function tinyllm(...argv: string[]) {
  return spawnSync(process.execPath, ['lib/cli/tinyllm.js', ...argv], { encoding: 'utf8' });
}

describe('tinyllm data prepare and train', () => {
  it('prepares shards with worker threads, reporting skipped malformed lines by file:line', () => {
    const input = join(dir, 'in.jsonl');
    const good = Array.from({ length: 200 }, (_, i) => JSON.stringify({ text: `第${i}首：白日依山尽，黄河入海流。欲穷千里目，更上一层楼。` }));
    writeFileSync(input, [...good.slice(0, 100), '{"text": 1}', ...good.slice(100)].join('\n'));
    const run = tinyllm('data', 'prepare', '--tokenizer', 'datasets/tokenizer', '--input', input, '--out', data, '--workers', '2', '--val-fraction', '0.1');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain(`${input}: skipped 1 malformed line(s), e.g.\n  ${input}:101: field "text": a number, expected a string`);
    expect(run.stdout).toMatch(/^wrote .*: train [\d.k]+ tokens \(180 docs, 1 shard\(s\)\), val [\d.k]+ tokens \(20 docs\), uint16, 1 malformed line\(s\) skipped/m);
  });

  it('refuses input with no text at prepare, leaving no output behind', () => {
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    const blank = join(dir, 'blank.txt');
    writeFileSync(blank, '');
    const out = join(dir, 'empty-data');
    for (const input of [empty, blank]) {
      const run = tinyllm('data', 'prepare', '--tokenizer', 'datasets/tokenizer', '--input', input, '--out', out, '--workers', '0');
      expect(run.status).toBe(1);
      expect(run.stderr.trim().split('\n').pop()).toMatch(new RegExp(`^tinyllm: ${input}: no text to tokenize \\(\\d empty document\\(s\\)\\), expected documents with text$`));
      expect(existsSync(out)).toBe(false);
      expect(existsSync(`${out}.tmp`)).toBe(false);
    }
  });

  it('refuses data too small for one batch before making the run directory', () => {
    const tiny = join(dir, 'tiny.jsonl');
    writeFileSync(tiny, `${JSON.stringify({ text: '床前明月光' })}\n`);
    const tinyData = join(dir, 'tiny-data');
    expect(tinyllm('data', 'prepare', '--tokenizer', 'datasets/tokenizer', '--input', tiny, '--out', tinyData, '--workers', '0', '--val-fraction', '0').status).toBe(0);
    const out = join(dir, 'never-made');
    const run = tinyllm('train', '--data', tinyData, '--out', out, '--backend', 'wasm');
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toMatch(new RegExp(`^tinyllm: ${tinyData}: the train split has \\d+ tokens, 0 window\\(s\\) of 257, fewer than the batch of 8; use a smaller --batch or --seq, or more data$`));
    expect(existsSync(out)).toBe(false);
  });

  it('--resume on a folder that does not exist fails without making it', () => {
    const out = join(dir, 'no-such-run');
    const run = tinyllm('train', '--data', data, '--out', out, '--resume', '--backend', 'wasm');
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(`tinyllm: --resume: ${out} does not exist, expected a run directory to resume from`);
    expect(existsSync(out)).toBe(false);
  });

  it('names a bad flag value', () => {
    const run = tinyllm('train', '--data', data, '--out', join(dir, 'x'), '--lr', 'fast');
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe("tinyllm: --lr: 'fast' is not valid, expected a number >= 0");
  });

  it('writes a checkpoint on Ctrl-C and exits 130; --resume continues from it', async () => {
    const out = join(dir, 'run');
    const args = ['lib/cli/tinyllm.js', 'train', '--data', data, '--out', out, '--steps', '100000', '--batch', '1', '--seq', '16', '--backend', 'wasm', '--eval-every', '0'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let code: number | null;
    try {
      // Interrupt once a few steps are logged.
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (existsSync(join(out, 'metrics.jsonl'))) { clearInterval(poll); setTimeout(() => { child.kill('SIGINT'); resolve(); }, 500); }
        }, 50);
      });
      code = await exited;
    } finally {
      child.kill('SIGKILL'); // never leave a training process behind if the test fails
    }
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('stopping after this step and writing a checkpoint');
    const checkpoints = readdirSync(out).filter((n) => n.startsWith('step-'));
    expect(checkpoints).toHaveLength(1);
    const step = Number(checkpoints[0]!.slice(5));
    const resumed = tinyllm('train', '--data', data, '--out', out, '--steps', String(step + 2), '--batch', '1', '--seq', '16', '--backend', 'wasm', '--eval-every', '0', '--resume');
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`step ${step + 2}: loss`);
    expect(existsSync(join(out, 'final', 'model.safetensors'))).toBe(true);
  });
});
