// A recorded run, as results/92m/run.sh leaves it and the repository keeps it: each training stage's
// metrics.jsonl (gzipped), the evaluation reports of each model (`tinyllm eval --json`), and
// commands.log (every command with its wall time and peak GPU memory). Read here — checked line by line,
// a bad line named by file and line — for the README's figures, notebook 14, the loss-curve image and
// the test that keeps them parseable.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { QaPrediction } from '../eval/generation.js';
import type { StepMetrics } from '../train/loop.js';
import type { VegaLiteSpec } from '../viz/vegalite.js';

/** The training stages of a run, in order. */
export const STAGES = ['pretrain', 'sft', 'dpo'] as const;
export type Stage = (typeof STAGES)[number];

/** A file's text, gunzipped when its name ends in .gz. */
function readText(file: string): string {
  const bytes = readFileSync(file);
  return (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
}

/** Parse each non-empty line as a JSON object; `check` names what a line lacks (or null). */
function readJsonLines<T>(file: string, check: (row: Record<string, unknown>) => string | null): T[] {
  return readText(file).split('\n').flatMap((line, i) => {
    if (line.trim() === '') return [];
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (err) {
      throw new Error(`${file}:${i + 1}: not JSON (${(err as Error).message})`);
    }
    const problem = typeof row === 'object' && row !== null && !Array.isArray(row) ? check(row as Record<string, unknown>) : 'not a JSON object';
    if (problem) throw new Error(`${file}:${i + 1}: ${problem}`);
    return [row as T];
  });
}

/** A training stage's metrics: one row per step, steps 1, 2, 3, … with none missing (a resumed run included). */
export function readMetrics(file: string): StepMetrics[] {
  const rows = readJsonLines<StepMetrics>(file, (row) => {
    for (const field of ['step', 'loss', 'lr', 'tokens', 'tok_s']) {
      if (typeof row[field] !== 'number' || !Number.isFinite(row[field])) return `field "${field}": ${JSON.stringify(row[field])}, expected a finite number`;
    }
    return null;
  });
  rows.forEach((row, i) => {
    if (row.step !== i + 1) throw new Error(`${file}:${i + 1}: field "step": ${row.step}, expected ${i + 1} (steps in order, none missing)`);
  });
  return rows;
}

/** One command of commands.log: what ran, how long, the most GPU memory in use meanwhile (null off a GPU). */
export interface CommandRecord {
  command: string;
  seconds: number;
  peakGpuMiB: number | null;
}

/** commands.log: "$ command" lines, each followed by "# <seconds> s[, peak GPU memory <MiB> MiB]". */
export function readCommandsLog(file: string): CommandRecord[] {
  const records: CommandRecord[] = [];
  let pending: string | null = null;
  readText(file).split('\n').forEach((line, i) => {
    if (line.startsWith('$ ')) {
      if (pending !== null) throw new Error(`${file}:${i + 1}: a command before the previous one's time line`);
      pending = line.slice(2);
    } else if (line.startsWith('# ')) {
      const m = /^# (\d+) s(?:, peak GPU memory (\d+) MiB)?$/.exec(line);
      if (!m || pending === null) throw new Error(`${file}:${i + 1}: expected "# <seconds> s[, peak GPU memory <n> MiB]" after a "$ command" line`);
      records.push({ command: pending, seconds: Number(m[1]), peakGpuMiB: m[2] === undefined ? null : Number(m[2]) });
      pending = null;
    } else if (line.trim() !== '') {
      throw new Error(`${file}:${i + 1}: expected a "$ command" or "# time" line`);
    }
  });
  return records;
}

/** What `tinyllm eval --json` reports, the fields a summary reads. */
export interface EvalReports {
  /** By text (zh-modern, zh-classical, en): loss per token, perplexity, bits per byte. */
  ppl: Record<string, { tokens: number; loss: number; ppl: number; bpb: number }>;
  /** By scoring (letter, option): accuracy with its 95% interval. */
  mcq: Record<string, { n: number; accuracy: number; interval: [number, number] }>;
  /** Generation on held-out questions: token F1, exact and contained answers, share that ended by themselves. */
  gen: { n: number; f1: number; exact: number; contains: number; stopped: number };
}

/** The texts and scorings run.sh evaluates. */
export const PPL_TEXTS = ['zh-modern', 'zh-classical', 'en'] as const;
export const MCQ_SCORINGS = ['letter', 'option'] as const;

/** The reports in one model's folder (ppl-<text>.json, mcq-<scoring>.json, gen.json). */
export function readEvalReports(dir: string): EvalReports {
  const read = (name: string, fields: string[]) => {
    const file = join(dir, name);
    const [report] = readJsonLines<Record<string, unknown>>(file, (row) => {
      const missing = fields.find((f) => row[f] === undefined);
      return missing ? `field "${missing}" missing` : null;
    });
    if (!report) throw new Error(`${file}: empty`);
    return report;
  };
  const ppl = Object.fromEntries(PPL_TEXTS.map((t) => [t, read(`ppl-${t}.json`, ['tokens', 'loss', 'ppl', 'bpb'])])) as EvalReports['ppl'];
  const mcq = Object.fromEntries(MCQ_SCORINGS.map((s) => [s, (read(`mcq-${s}.json`, ['micro']) as { micro: EvalReports['mcq'][string] }).micro])) as EvalReports['mcq'];
  const gen = read('gen.json', ['n', 'f1', 'exact', 'contains', 'stopped']) as unknown as EvalReports['gen'];
  return { ppl, mcq, gen };
}

/** The answers `tinyllm eval --task gen --predictions` kept (.jsonl or .jsonl.gz), one per question. */
export function readGenPredictions(file: string): QaPrediction[] {
  return readJsonLines<QaPrediction>(file, (row) => {
    for (const field of ['question', 'answer', 'pred']) if (typeof row[field] !== 'string') return `field "${field}": ${JSON.stringify(row[field])}, expected a string`;
    for (const field of ['line', 'f1']) if (typeof row[field] !== 'number') return `field "${field}": ${JSON.stringify(row[field])}, expected a number`;
    return typeof row.stopped === 'boolean' ? null : `field "stopped": ${JSON.stringify(row.stopped)}, expected true or false`;
  });
}

/** Mean of every `every` consecutive values of `field` (steps without it skipped): [step at the window's end, mean]. */
export function windowMeans(rows: readonly StepMetrics[], field: string, every: number): [number, number][] {
  const points: [number, number][] = [];
  for (let start = 0; start < rows.length; start += every) {
    const values = rows.slice(start, start + every).map((r) => r[field]).filter((v): v is number => v !== undefined);
    if (values.length > 0) points.push([rows[Math.min(start + every, rows.length) - 1]!.step, values.reduce((a, b) => a + b, 0) / values.length]);
  }
  return points;
}

/**
 * The three stages' loss curves side by side (Vega-Lite): training loss averaged over windows of steps
 * (pretraining is noisy step to step: a batch of poems and a batch of manuals differ) and validation loss.
 */
export function lossCurvesSpec(metrics: Record<Stage, readonly StepMetrics[]>): VegaLiteSpec {
  const windows: Record<Stage, number> = { pretrain: 50, sft: 10, dpo: 5 };
  const values = STAGES.flatMap((stage) => [
    ...windowMeans(metrics[stage], 'loss', windows[stage]).map(([step, loss]) => ({ stage, step, loss, series: 'train' })),
    ...metrics[stage].filter((r) => r.val_loss !== undefined).map((r) => ({ stage, step: r.step, loss: r.val_loss, series: 'validation' })),
  ]);
  return {
    title: { text: 'loss per token', subtitle: `training loss as means over ${STAGES.map((s) => `${windows[s]} (${s})`).join(', ')} steps` },
    data: { values },
    facet: { column: { field: 'stage', type: 'nominal', sort: [...STAGES], title: null } },
    spec: {
      width: 260, height: 200,
      mark: { type: 'line', point: false },
      encoding: {
        x: { field: 'step', type: 'quantitative' },
        y: { field: 'loss', type: 'quantitative', scale: { zero: false } },
        color: { field: 'series', type: 'nominal', title: null },
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  };
}
