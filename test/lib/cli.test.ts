import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { optionValue, parseArgs } from '../../lib/cli/args.js';
import { BACKEND_OPTION } from '../../lib/cli/command.js';
import { Progress } from '../../lib/cli/progress.js';
import { countParameters, PRESETS, presetConfig } from '../../lib/model/config.js';
import { TRAIN_DEFAULTS } from '../../lib/train/options.js';

function tinyllm(...argv: string[]) {
  return spawnSync(process.execPath, ['lib/cli/tinyllm.js', ...argv], { encoding: 'utf8' });
}

describe('parseArgs', () => {
  it('reads command words, values, = values, bare flags and lists', () => {
    const args = parseArgs(['tokenizer', 'train', '--input', 'a.txt', 'b.txt', '--lr=3e-4', '--resume', '--seed', '1']);
    expect(args.words).toEqual(['tokenizer', 'train']);
    expect(Object.fromEntries(args.flags)).toEqual({ input: ['a.txt', 'b.txt'], lr: ['3e-4'], resume: [], seed: ['1'] });
  });
  it("reads an option's value, or the default its spec declares (the one --help shows), and names the option when it is wrong", () => {
    expect(optionValue(parseArgs(['--backend', 'wasm']), BACKEND_OPTION)).toBe('wasm');
    expect(optionValue(parseArgs([]), BACKEND_OPTION)).toBe('auto');
    expect(optionValue(parseArgs([]), { name: 'out', help: '' })).toBeUndefined();
    expect(() => optionValue(parseArgs(['--backend']), BACKEND_OPTION)).toThrow('--backend: missing value, expected --backend <value>');
  });
});

describe('tinyllm', () => {
  it('lists its commands', () => {
    const run = tinyllm('--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('usage: tinyllm <command>');
    expect(run.stdout).toMatch(/^ {2}info {2}/m);
  });
  it('lists the commands of a group: tokenizer --help', () => {
    const run = tinyllm('tokenizer', '--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('usage: tinyllm tokenizer <command>');
    expect(run.stdout.match(/^ {2}tokenizer (train|encode|decode) {2}/gm)).toEqual(['  tokenizer train  ', '  tokenizer encode  ', '  tokenizer decode  ']);
  });
  it('train --help gives each option its meaning and default, and every preset with its size', () => {
    for (const argv of [['train', '--help'], ['help', 'train']]) {
      const run = tinyllm(...argv);
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^usage: tinyllm train --data <dir> --out <dir> \[options\]$/m);
      expect(run.stdout).toMatch(new RegExp(`^ {2}--steps <n> +optimizer steps \\(default ${TRAIN_DEFAULTS.steps}\\)$`, 'm'));
      expect(run.stdout).toMatch(/^ {2}--data <dir> +token shards made by `tinyllm data prepare` \(required\)$/m);
      expect(run.stdout).toMatch(/^ {2}--min-lr <x> +.* \(default lr \/ 10\)$/m);
      for (const name of Object.keys(PRESETS)) {
        const c = presetConfig(name);
        const millions = countParameters(c).total / 1e6;
        expect(run.stdout).toMatch(new RegExp(`^ {2}${name.replace('.', '\\.')} +hidden +${c.hidden} +ffn +${c.ffn} +layers +${c.layers} .* ${millions.toFixed(2)}M parameters`, 'm'));
      }
    }
  });
  it('info reports the backend it would use', () => {
    const run = tinyllm('info', '--backend', 'cpu');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^tiny-llm-ts · node v\d+\.\d+\.\d+ · tfjs 4\.22\.0 · backend cpu$/m);
    expect(run.stdout).toMatch(/^CPU products: OpenBLAS [\d.]+ \(\w+ kernels\), \/\S+\/libscipy_openblas\.(so|dylib) \(found in \S+\.venv \(scipy-openblas32\)\)$/m);
  });
  it('info says why the CPU products have no BLAS', () => {
    const run = spawnSync(process.execPath, ['lib/cli/tinyllm.js', 'info', '--backend', 'cpu'], { encoding: 'utf8', env: { ...process.env, TINYLLM_BLAS: 'off' } });
    expect(run.stdout).toMatch(/^CPU products: TINYLLM_BLAS=off$/m);
  });
  it.each([
    [['frob'], "tinyllm: unknown command 'frob', expected one of: info, tokenizer train, tokenizer encode, tokenizer decode, data prepare, train, sft, dpo, lora merge, generate, chat, serve, score, eval, quantize, export, demo"],
    [['tokenizer'], 'tinyllm: tokenizer: expected a subcommand, one of: train, encode, decode'],
    [['score', '--model', 'x', '--text', 'hi', '--json', 'yes'], "tinyllm: --json: takes no value, got 'yes'"],
    [['score', '--text', 'hi'], 'tinyllm: --model: missing, expected --model <dir>'],
    [['info', '--backend', 'webgl'], "tinyllm: --backend: unknown backend 'webgl', expected one of auto, cpu, wasm, cuda"],
    [['info', '--bakend', 'cpu'], 'tinyllm: --bakend: unknown option, expected one of --backend'],
  ])('%j fails with one line and exit code 1', (argv, message) => {
    const run = tinyllm(...argv);
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(message);
  });
});

describe('Progress', () => {
  it('clears the bar before a line on stdout and draws it again after, so they never share a row', () => {
    const events: string[] = [];
    const streams = { stdout: { write: (t: string) => events.push(`out:${t}`) }, stderr: { isTTY: true, write: (t: string) => events.push(`err:${t}`) } };
    const progress = new Progress('train', 10, ' steps', 0, streams);
    progress.update(3, 'loss 7.5');
    progress.log('step 3 val 7.6');
    expect(events).toHaveLength(4);
    expect(events[0]).toMatch(/^err:\r\x1b\[Ktrain \[#{7}\.{17}\] 3\/10 steps · .* · loss 7\.5$/);
    expect(events.slice(1, 3)).toEqual(['err:\r\x1b[K', 'out:step 3 val 7.6\n']);
    expect(events[3]).toBe(events[0]!.replace('err:\r\x1b[K', 'err:'));
    progress.update(10);
    progress.log('done'); // the finished bar ends its line: nothing to clear
    expect(events.slice(-2)).toEqual([expect.stringMatching(/^err:\r\x1b\[Ktrain .* done in .*\n$/), 'out:done\n']);
  });
  it('writes whole lines on a pipe', () => {
    const events: string[] = [];
    const progress = new Progress('prepare', 2, ' files', 0, { stdout: { write: (t: string) => events.push(`out:${t}`) }, stderr: { write: (t: string) => events.push(`err:${t}`) } });
    progress.update(2);
    progress.log('wrote');
    expect(events).toEqual([expect.stringMatching(/^err:prepare 2\/2 files · .* · done in .*\n$/), 'out:wrote\n']);
  });
});
