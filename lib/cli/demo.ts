// `tinyllm demo` (npm run demo): the pretraining pipeline on the shipped data in a few minutes on a
// laptop CPU (lib/train/demo.ts), with a progress bar and the report printed beneath it.
import { intFlag, optionValue, stringFlag } from './args.js';
import { BACKEND_OPTION, type Command } from './command.js';
import { DEMO_DEFAULTS as D } from '../train/options.js';
import { formatSeconds, Progress } from './progress.js';

export const demo: Command = {
  summary: 'prepare the shipped corpus and train the nano model on it for a few minutes, with samples',
  options: [
    { name: 'out', value: '<dir>', default: D.out, help: 'where the shards (data/) and the run (run-<time>/) go' },
    { name: 'steps', value: '<n>', default: D.steps, help: 'training steps' },
    BACKEND_OPTION,
  ],
  async run(args) {
    const started = performance.now();
    const { initBackend, parseBackendName } = await import('../backend/init.js');
    const { runDemo } = await import('../train/demo.js');
    await initBackend(parseBackendName(optionValue(args, BACKEND_OPTION)!));
    const steps = intFlag(args, 'steps', D.steps, 1)!;
    const progress = new Progress('train', steps, ' steps');
    const { run } = await runDemo({
      out: stringFlag(args, 'out', D.out)!, steps,
      log: (line) => progress.log(line),
      onStep: (m) => progress.update(m.step, `loss ${m.loss.toFixed(3)} · ${m.tok_s} tok/s`),
    });
    console.log(`done in ${formatSeconds((performance.now() - started) / 1000)}; model in ${run}/final (try: npx tinyllm generate --model ${run}/final --prompt 床前明月光)`);
  },
};
