import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { lossCurvesSpec, readCommandsLog, readEvalReports, readGenPredictions, readMetrics, STAGES, windowMeans } from '../../lib/report/recorded-run.js';
import { vegaLiteToSvg } from '../../lib/viz/svg.js';

const RUN = 'results/92m';
const metricsFile = (stage: string) => join(RUN, 'metrics', `${stage}.jsonl.gz`);

describe('the committed full-size run (results/92m)', () => {
  const metrics = { pretrain: readMetrics(metricsFile('pretrain')), sft: readMetrics(metricsFile('sft')), dpo: readMetrics(metricsFile('dpo')) };

  it('metrics: every step of each stage, batch × seq tokens per pretraining step, validation losses logged', () => {
    expect(metrics.pretrain).toHaveLength(9000);
    expect(metrics.sft).toHaveLength(900);
    expect(metrics.dpo).toHaveLength(300);
    expect(metrics.pretrain.at(-1)!.tokens).toBe(9000 * 32 * 1024);
    expect(metrics.pretrain.filter((r) => r.val_loss !== undefined)).toHaveLength(9000 / 250);
    for (const stage of STAGES) {
      const val = metrics[stage].filter((r) => r.val_loss !== undefined).map((r) => r.val_loss!);
      expect(val.length).toBeGreaterThan(2);
      val.forEach((v) => expect(v).toBeGreaterThan(0));
    }
    expect(metrics.dpo.at(-1)!['val_rewards/accuracies']).toBeGreaterThan(0.5);
  });

  it('commands.log: each stage of run.sh ran, with its wall time and peak GPU memory', () => {
    const commands = readCommandsLog(join(RUN, 'commands.log'));
    for (const what of [' data prepare ', ' train --preset 92m ', ' sft ', ' dpo ', ' eval ', ' quantize ', ' export ', 'curl ']) {
      expect(commands.some((c) => c.command.includes(what)), what).toBe(true);
    }
    const pretraining = commands.filter((c) => c.command.includes(' train --preset 92m '));
    expect(pretraining.map((c) => c.command.endsWith('--resume'))).toEqual([false, true]); // two pieces, the second resumed
    commands.forEach((c) => expect(c.peakGpuMiB).not.toBeNull());
    expect(Math.max(...pretraining.map((c) => c.peakGpuMiB!))).toBeGreaterThan(1024);
  });

  it('evaluation reports of the five models parse, with every item scored', () => {
    for (const model of ['base', 'sft', 'dpo', 'dpo-q8_0', 'dpo-q4_0']) {
      const r = readEvalReports(join(RUN, 'eval', model));
      expect(Object.values(r.mcq).map((m) => m.n)).toEqual([1647, 1647]);
      expect(r.gen.n).toBe(477);
      for (const p of Object.values(r.ppl)) expect(p.ppl).toBeCloseTo(Math.exp(p.loss), 6);
      const answers = readGenPredictions(join(RUN, 'eval', model, 'gen-predictions.jsonl.gz'));
      expect(answers).toHaveLength(477);
      expect(answers.reduce((sum, a) => sum + a.f1, 0) / answers.length).toBeCloseTo(r.gen.f1, 10); // the report is their mean
    }
  });

  it('loss-curves.svg is the chart of the committed metrics (npx tsx results/loss-curves.ts results/92m)', async () => {
    expect(await vegaLiteToSvg(lossCurvesSpec(metrics))).toBe(readFileSync(join(RUN, 'loss-curves.svg'), 'utf8'));
  });
});

describe('reading a recorded run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recorded-run-'));
  const row = (step: number, extra = '') => `{"step":${step},"loss":2.5,"lr":0.001,"tokens":${step * 10},"tok_s":100${extra}}`;

  it('readMetrics reads .jsonl and .jsonl.gz alike', () => {
    const text = [row(1), row(2, ',"val_loss":2.25'), ''].join('\n');
    writeFileSync(join(dir, 'm.jsonl'), text);
    writeFileSync(join(dir, 'm.jsonl.gz'), gzipSync(text));
    expect(readMetrics(join(dir, 'm.jsonl'))).toEqual(readMetrics(join(dir, 'm.jsonl.gz')));
    expect(readMetrics(join(dir, 'm.jsonl'))[1]!.val_loss).toBe(2.25);
  });

  it('readMetrics names the file, line and field of a bad line, and a missing step', () => {
    const bad = (name: string, lines: string[]) => {
      writeFileSync(join(dir, name), lines.join('\n'));
      return () => readMetrics(join(dir, name));
    };
    expect(bad('a.jsonl', [row(1), '{"step":2,"loss":"x","lr":0,"tokens":0,"tok_s":0}'])).toThrow(`${join(dir, 'a.jsonl')}:2: field "loss": "x", expected a finite number`);
    expect(bad('b.jsonl', [row(1), '{oops'])).toThrow(`${join(dir, 'b.jsonl')}:2: not JSON`);
    expect(bad('c.jsonl', [row(1), row(3)])).toThrow(`${join(dir, 'c.jsonl')}:2: field "step": 3, expected 2 (steps in order, none missing)`);
  });

  it('readGenPredictions names the file, line and field of an answer it cannot use', () => {
    const good = '{"file":"q.jsonl","line":1,"question":"q","answer":"a","pred":"p","exact":false,"contains":false,"f1":0.5,"stopped":true}';
    writeFileSync(join(dir, 'p.jsonl'), `${good}\n${good.replace('"stopped":true', '"stopped":"yes"')}\n`);
    expect(() => readGenPredictions(join(dir, 'p.jsonl'))).toThrow(`${join(dir, 'p.jsonl')}:2: field "stopped": "yes", expected true or false`);
  });

  it('readCommandsLog pairs commands with their times, and names a line out of place', () => {
    writeFileSync(join(dir, 'ok.log'), '$ a b\n# 12 s, peak GPU memory 345 MiB\n$ c\n# 0 s\n');
    expect(readCommandsLog(join(dir, 'ok.log'))).toEqual([{ command: 'a b', seconds: 12, peakGpuMiB: 345 }, { command: 'c', seconds: 0, peakGpuMiB: null }]);
    writeFileSync(join(dir, 'bad.log'), '$ a\n$ b\n');
    expect(() => readCommandsLog(join(dir, 'bad.log'))).toThrow(`${join(dir, 'bad.log')}:2: a command before the previous one's time line`);
    writeFileSync(join(dir, 'bad2.log'), '$ a\n# soon\n');
    expect(() => readCommandsLog(join(dir, 'bad2.log'))).toThrow(`${join(dir, 'bad2.log')}:2: expected "# <seconds> s`);
  });

  it('windowMeans averages each window of steps (a shorter last one included) at its last step', () => {
    const rows = [1, 2, 3, 4, 5].map((step) => ({ step, loss: step * 2, lr: 0, tokens: 0, tok_s: 0, grad_norm: 0 }));
    expect(windowMeans(rows, 'loss', 2)).toEqual([[2, 3], [4, 7], [5, 10]]);
  });
});
