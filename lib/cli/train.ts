// `tinyllm train`: pretrain a preset on token shards, with checkpoints, --resume and Ctrl-C that saves.
import { initBackend, parseBackendName, parseMatmulPrecision } from '../backend/init.js';
import { readShardIndex } from '../data/shards.js';
import { presetConfig } from '../model/config.js';
import { train } from '../train/loop.js';
import { intFlag, numberFlag, requiredFlag, stringFlag, type Args } from './args.js';
import type { Command } from './command.js';
import { formatCount } from './progress.js';

const FLAGS = ['preset', 'data', 'out', 'steps', 'batch', 'seq', 'accum', 'lr', 'min-lr', 'warmup', 'weight-decay', 'clip', 'seed',
  'eval-every', 'eval-batches', 'save-every', 'backend', 'matmul', 'resume'] as const;

/** The run's options from flags (defaults suit `nano` on a CPU). */
function trainOptions(args: Args) {
  const data = requiredFlag(args, 'data');
  const preset = stringFlag(args, 'preset', 'nano')!;
  const steps = intFlag(args, 'steps', 1000, 1)!;
  const lr = numberFlag(args, 'lr', 1e-3, 0);
  const index = readShardIndex(data);
  const config = presetConfig(preset, { vocabSize: index.vocabSize });
  return {
    data, out: requiredFlag(args, 'out'), config, steps,
    batch: intFlag(args, 'batch', 8, 1)!,
    seq: intFlag(args, 'seq', Math.min(256, config.maxSeq), 2, config.maxSeq)!,
    accum: intFlag(args, 'accum', 1, 1)!,
    lr, minLr: numberFlag(args, 'min-lr', lr / 10, 0),
    warmup: intFlag(args, 'warmup', Math.min(100, Math.ceil(steps / 10)), 0)!,
    weightDecay: numberFlag(args, 'weight-decay', 0.1, 0),
    clip: numberFlag(args, 'clip', 1, 0),
    seed: intFlag(args, 'seed', 0, 0)!,
    evalEvery: intFlag(args, 'eval-every', 100, 0)!,
    evalBatches: intFlag(args, 'eval-batches', 10, 1)!,
    saveEvery: intFlag(args, 'save-every', 500, 0)!,
    resume: args.flags.has('resume'),
  };
}

export const trainCommand: Command = {
  summary: 'pretrain a model on token shards (checkpoints, --resume, Ctrl-C saves a checkpoint)',
  usage: 'tinyllm train --data <shards> --out <run> [--preset nano|16m|…|92m] [--steps N --batch B --seq T --accum N --lr X --min-lr X ' +
    '--warmup N --weight-decay X --clip X --seed S --eval-every N --eval-batches N --save-every N --backend auto|cpu|wasm|cuda --matmul bf16|tf32|fp32 (cuda) --resume]',
  flags: FLAGS,
  async run(args) {
    const options = trainOptions(args);
    // TF32 is the default: on an H100 it measured faster than bf16 here, whose fp32 → bf16 copies cost more than they save.
    await initBackend(parseBackendName(stringFlag(args, 'backend', 'auto')!), { matmul: parseMatmulPrecision(stringFlag(args, 'matmul', 'bf16')!) });
    let stop = false;
    const onSigint = () => {
      if (stop) process.exit(130);
      stop = true;
      console.error('\ntinyllm: stopping after this step and writing a checkpoint (Ctrl-C again quits at once)');
    };
    process.on('SIGINT', onSigint);
    console.log(`train: ${options.resume ? 'resuming' : 'new run'} in ${options.out}; ${formatCount(options.batch * options.seq * options.accum)} tokens/step, ${options.steps} steps`);
    const result = await train(options, { shouldStop: () => stop });
    process.off('SIGINT', onSigint);
    const last = result.history[result.history.length - 1];
    if (last) console.log(`step ${last.step}: loss ${last.loss.toFixed(4)}${last.val_loss !== undefined ? `, val ${last.val_loss.toFixed(4)}` : ''}`);
    result.model.dispose();
    if (result.stopped) {
      console.log(`stopped: checkpoint saved in ${options.out}; continue with the same command and --resume`);
      process.exitCode = 130;
    } else {
      console.log(`wrote ${options.out}/final`);
    }
  },
};
