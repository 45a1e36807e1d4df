// `tinyllm eval`: how good a model is, in numbers that say how far from chance they are —
// perplexity and bits per byte of held-out text (ppl), C-Eval/CMMLU-style multiple choice (mcq), and
// greedy answers to held-out questions (gen). The evaluators are in lib/eval/.
import { intFlag, optionValue, requiredFlag, stringFlag } from './args.js';
import { ADAPTER_OPTION, BACKEND_OPTION, type Command } from './command.js';
import { EVAL_DEFAULTS, TASKS, type EvalTask } from '../eval/options.js';
import { Progress } from './progress.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
/** Columns a string takes in a terminal: CJK and full-width characters take two. */
const columns = (s: string) => [...s].reduce((n, c) => n + (/[\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(c) ? 2 : 1), 0);
const padColumns = (s: string, width: number) => s + ' '.repeat(Math.max(0, width - columns(s)));

export const evalCommand: Command = {
  summary: 'evaluate a model: perplexity (ppl), multiple choice (mcq: C-Eval/CMMLU files) or generation (gen)',
  options: [
    { name: 'model', value: '<dir>', required: true, help: 'a model directory (config.json, model.safetensors, tokenizer files)' },
    ADAPTER_OPTION,
    { name: 'task', value: TASKS.join('|'), required: true, help: 'ppl: text (.txt, .jsonl {"text"}, shards); mcq: a C-Eval or CMMLU directory or CSV; gen: JSONL questions with answers' },
    { name: 'data', value: '<path>', required: true, help: 'what to evaluate on (see --task)' },
    { name: 'split', value: '<name>', help: 'mcq: the folder to score (default val where there is one, else test); ppl on shards: train or val (default val)' },
    { name: 'score', value: 'letter|option', default: EVAL_DEFAULTS.score, help: "mcq: the next token's A–D, or each option's log-likelihood per byte" },
    { name: 'shots', value: '<k>', default: EVAL_DEFAULTS.shots, help: "mcq: worked examples from the subject's dev rows before each question (letter scoring)" },
    { name: 'chat', help: 'mcq: put the prompt in a user message and score the reply (chat models); gen always does' },
    { name: 'window', value: '<n>', default: "the model's context", help: 'ppl: most tokens a window sees' },
    { name: 'stride', value: '<n>', default: 'the window', help: 'ppl: how far the window moves (smaller: more context per prediction, more passes)' },
    { name: 'max-tokens', value: '<n>', default: EVAL_DEFAULTS.maxTokens, help: 'gen: most tokens per answer' },
    { name: 'limit', value: '<n>', help: 'only the first n documents, items (per subject) or questions' },
    { name: 'batch', value: '<n>', default: EVAL_DEFAULTS.batch, help: 'rows per forward pass' },
    { name: 'predictions', value: '<file.jsonl>', help: 'write one line per document, item or question' },
    { name: 'json', help: 'print the report as JSON' },
    BACKEND_OPTION,
  ],
  async run(args) {
    const task = requiredFlag(args, 'task') as EvalTask;
    if (!TASKS.includes(task)) throw new Error(`--task: '${task}', expected one of ${TASKS.join(', ')}`);
    const only = (flag: string, tasks: EvalTask[]) => {
      if (args.flags.has(flag) && !tasks.includes(task)) throw new Error(`--${flag}: applies to --task ${tasks.join(' or ')}, not ${task}`);
    };
    only('score', ['mcq']); only('shots', ['mcq']); only('chat', ['mcq']); only('window', ['ppl']); only('stride', ['ppl']); only('max-tokens', ['gen']);
    only('split', ['mcq', 'ppl']);
    const batch = intFlag(args, 'batch', EVAL_DEFAULTS.batch, 1)!;
    const limit = intFlag(args, 'limit', undefined, 1);
    const data = requiredFlag(args, 'data');
    const predictionsFile = stringFlag(args, 'predictions');
    const json = args.flags.has('json');

    const { initBackend, parseBackendName } = await import('../backend/init.js');
    const { loadModelWithAdapter } = await import('../io/peft.js');
    const { writeFileAtomic } = await import('../io/atomic.js');
    await initBackend(parseBackendName(optionValue(args, BACKEND_OPTION)!), { quiet: true });
    const dir = requiredFlag(args, 'model');
    const { model, tokenizer } = loadModelWithAdapter(dir, stringFlag(args, 'adapter'));
    if (!tokenizer) throw new Error(`${dir}: no tokenizer.json, which evaluation needs`);
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const writePredictions = (rows: unknown[]) => {
      if (predictionsFile) writeFileAtomic(predictionsFile, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    };
    const skippedLine = (n: number, examples: string[], what = 'line') => (n > 0 ? [`skipped ${n} malformed ${what}(s), e.g. ${examples[0]}`] : []);
    let progress: Progress | undefined;
    const onProgress = (unit: string) => (done: number, total: number) => {
      progress ??= new Progress(task, total, unit);
      progress.update(done);
    };

    if (task === 'ppl') {
      const { readPplDocuments } = await import('../eval/texts.js');
      const { evaluatePerplexity } = await import('../eval/perplexity.js');
      const split = stringFlag(args, 'split', 'val');
      if (split !== 'train' && split !== 'val') throw new Error(`--split: '${split}', expected train or val for shards`);
      const window = intFlag(args, 'window', undefined, 1);
      const stride = intFlag(args, 'stride', undefined, 1);
      const { documents, skipped, skippedExamples } = await readPplDocuments(data, tokenizer, { split, limit });
      const report = evaluatePerplexity(model, documents, { window, stride, batch, onProgress: onProgress(' windows') });
      writePredictions(report.documents.map((r, i) => ({ document: i, ...r })));
      const t = report.total;
      if (json) console.log(JSON.stringify({ task, data, documents: documents.length, ...t, seconds: seconds() }));
      else {
        console.log(`${data}: ${documents.length} documents, ${t.tokens} tokens, ${t.bytes} bytes`);
        console.log(`loss ${t.loss.toFixed(4)} · perplexity ${t.ppl.toFixed(2)} · bits per byte ${t.bpb.toFixed(4)}`);
        console.log([...skippedLine(skipped, skippedExamples), `${(t.tokens / seconds()).toFixed(0)} tokens/s`].join('\n'));
      }
    } else if (task === 'mcq') {
      const { readMcq } = await import('../eval/mcq-data.js');
      const { evaluateMcq } = await import('../eval/mcq.js');
      const score = stringFlag(args, 'score', EVAL_DEFAULTS.score);
      if (score !== 'letter' && score !== 'option') throw new Error(`--score: '${score}', expected letter or option`);
      const set = readMcq(data, stringFlag(args, 'split'));
      if (limit) for (const s of set.subjects) s.items = s.items.slice(0, limit);
      const report = evaluateMcq(model, tokenizer, set, {
        score, shots: intFlag(args, 'shots', EVAL_DEFAULTS.shots, 0)!, chat: args.flags.has('chat'), batch, onProgress: onProgress(' items'),
      });
      writePredictions(report.predictions.map(({ file, id, pred, answer, scores }) => ({ file, id, pred, answer, scores })));
      const items = report.predictions.length;
      if (json) {
        const { predictions: _, ...rest } = report;
        console.log(JSON.stringify({ task, data, split: set.split, score, items, ...rest, skipped: set.skipped, seconds: seconds() }));
      } else {
        const width = Math.max(12, ...report.subjects.map((s) => columns(s.name)));
        const row = (name: string, a: { n: number; correct: number; accuracy: number; interval: [number, number] }) =>
          `${padColumns(name, width)}  ${String(a.n).padStart(5)}  ${String(a.correct).padStart(7)}  ${a.n > 0 ? pct(a.accuracy).padStart(8) : '       —'}  ${a.n > 0 ? `[${pct(a.interval[0])}, ${pct(a.interval[1])}]` : ''}`;
        console.log(`${padColumns('subject', width)}  ${'n'.padStart(5)}  correct  accuracy  95% interval`);
        for (const s of report.subjects) console.log(row(s.name, s));
        console.log(row('overall', report.micro));
        const m = report.micro;
        const verdict = m.interval[0] > report.chance ? 'above chance' : m.interval[1] < report.chance ? 'below chance' : 'not distinguishable from chance';
        console.log(`macro average ${pct(report.macro)} · chance ${pct(report.chance)}: ${m.n > 0 ? `overall ${verdict} (95% interval ${pct(m.interval[0])}–${pct(m.interval[1])})` : 'no answered items to score'}`);
        const notes = [
          ...skippedLine(set.skipped, set.skippedExamples, 'row'),
          ...(report.fewerShots > 0 ? [`${report.fewerShots} prompt(s) used fewer shots to fit the context`] : []),
          ...(report.truncated > 0 ? [`${report.truncated} prompt(s) cut on the left to fit the context`] : []),
          `${items} items in ${seconds().toFixed(1)} s (${(items / seconds()).toFixed(1)} items/s)`,
        ];
        console.log(notes.join('\n'));
      }
    } else {
      const { readQaItems, evaluateGeneration } = await import('../eval/generation.js');
      const { items, skipped, skippedExamples } = await readQaItems(data);
      const report = evaluateGeneration(model, tokenizer, items.slice(0, limit), {
        maxTokens: intFlag(args, 'max-tokens', EVAL_DEFAULTS.maxTokens, 1)!, onProgress: onProgress(' questions'),
      });
      writePredictions(report.predictions);
      const { predictions: _, ...rest } = report;
      if (json) console.log(JSON.stringify({ task, data, ...rest, skipped, seconds: seconds() }));
      else {
        console.log(`${data}: ${report.n} questions · exact match ${pct(report.exact)} · contains ${pct(report.contains)} · character F1 ${pct(report.f1)} · ended their reply ${pct(report.stopped)}`);
        console.log([...skippedLine(skipped, skippedExamples), `${report.n} questions in ${seconds().toFixed(1)} s`].join('\n'));
      }
    }
    model.dispose();
  },
};
