// `tinyllm train` and `tinyllm sft`: one training loop behind both — pretraining a preset from scratch
// on token shards, or fine-tuning a model directory on SFT examples — with checkpoints, --resume and
// Ctrl-C that saves. Defaults come from lib/train/options.ts; only what is given on the command line
// overrides them.
import { readShardIndex } from '../data/shards.js';
import { countParameters, PRESETS, presetConfig } from '../model/config.js';
import { LORA_DEFAULTS, LORA_TARGETS, type LoraConfig, type LoraTarget } from '../model/lora-config.js';
import { DERIVED_DEFAULTS, DPO_DEFAULTS, DPO_OPTIONS, SFT_DEFAULTS, TRAIN_DEFAULTS, type TrainDefaults, type TrainOptions, type TrainSettings } from '../train/options.js';
import { ranksFromEnv } from '../train/data-parallel.js';
import { intFlag, listFlag, numberFlag, optionValue, requiredFlag, stringFlag, type Args } from './args.js';
import { BACKEND_OPTION, type Command, type OptionSpec } from './command.js';
import { formatCount, Progress } from './progress.js';

const MATMUL_OPTION: OptionSpec = { name: 'matmul', value: 'bf16|tf32|fp32', default: 'bf16', help: 'matmul precision on cuda (the CPU backends compute in fp32)' };
const PRESET_OPTION: OptionSpec = { name: 'preset', value: '<name>', default: 'nano', help: 'model shape (see the list below); the vocabulary comes from the data' };

/** The options both commands share, with the defaults of their kind of run. */
function loopOptions(D: Readonly<TrainDefaults>, seqDefault: string): OptionSpec[] {
  return [
    { name: 'steps', value: '<n>', default: D.steps, help: 'optimizer steps' },
    { name: 'batch', value: '<n>', default: D.batch, help: 'sequences per micro-batch' },
    { name: 'seq', value: '<n>', default: seqDefault, help: 'tokens per sequence' },
    { name: 'accum', value: '<n>', default: D.accum, help: 'micro-batches per step (gradient accumulation)' },
    { name: 'lr', value: '<x>', default: D.lr, help: 'peak learning rate' },
    { name: 'min-lr', value: '<x>', default: DERIVED_DEFAULTS.minLr, help: 'learning rate at the end of the cosine decay' },
    { name: 'warmup', value: '<n>', default: DERIVED_DEFAULTS.warmup, help: 'steps of linear warmup' },
    { name: 'weight-decay', value: '<x>', default: D.weightDecay, help: 'AdamW decoupled weight decay (not on norms or the embedding)' },
    { name: 'clip', value: '<x>', default: D.clip, help: 'clip the global gradient norm to this (0: no clipping)' },
    { name: 'seed', value: '<n>', default: D.seed, help: 'seed of the initial weights and the data order' },
    { name: 'eval-every', value: '<n>', default: D.evalEvery, help: 'validate every n steps (0: never)' },
    { name: 'eval-batches', value: '<n>', default: D.evalBatches, help: 'batches of the val split per validation' },
    { name: 'save-every', value: '<n>', default: D.saveEvery, help: 'checkpoint every n steps (0: only at the end and on Ctrl-C)' },
    BACKEND_OPTION,
    MATMUL_OPTION,
    { name: 'save-dtype', value: 'float32|bfloat16', default: D.saveDtype, help: "precision of final/'s weights (checkpoints keep float32 for exact resume)" },
    { name: 'resume', help: 'continue the run in --out from its newest checkpoint, exactly' },
    { name: 'cuda-graph', help: 'on cuda, replay each step from a CUDA graph recorded at the second (language modelling on one GPU; 92m: 1.03× the eager step)' },
    { name: 'gpus', value: '<n>', help: "train on n GPUs of this machine: n processes (ranks), each a share of every step's micro-batches, gradients averaged through NCCL; as --accum n × accum on one GPU" },
  ];
}

/** The LoRA options of sft and dpo. */
const LORA_OPTIONS: OptionSpec[] = [
  { name: 'lora', value: '<rank>', help: 'train a LoRA adapter of this rank on the frozen model instead of all its weights; final/ holds the adapter alone (peft format)' },
  { name: 'lora-alpha', value: '<a>', default: `${LORA_DEFAULTS.alphaPerRank} × rank`, help: 'LoRA scale α: the update is (α / rank)·B·A' },
  { name: 'lora-dropout', value: '<p>', default: LORA_DEFAULTS.dropout, help: "dropout on the adapter's input while training" },
  { name: 'lora-targets', value: '<list>', default: LORA_DEFAULTS.targets.join(','), help: `projections to adapt, from ${Object.keys(LORA_TARGETS).join(',')}` },
];

/** The preset table for --help: shape and parameter count at the default vocabulary. */
export function presetLines(): string[] {
  const rows = Object.keys(PRESETS).map((name) => {
    const c = presetConfig(name);
    return `  ${name.padEnd(14)} hidden ${String(c.hidden).padStart(4)}  ffn ${String(c.ffn).padStart(4)}  layers ${String(c.layers).padStart(2)}  ` +
      `heads ${String(c.heads).padStart(2)}/${String(c.kvHeads).padEnd(2)}  maxSeq ${String(c.maxSeq).padStart(4)}  ${(countParameters(c).total / 1e6).toFixed(2).padStart(7)}M parameters${c.moe ? ' (MoE)' : ''}`;
  });
  return ['presets (parameters at vocabulary 6,400; heads are query/key-value):', ...rows];
}

/** The loop's settings from flags; what is not given takes the library's default (resolveTrainOptions). */
function loopSettings(args: Args, maxSeq?: number): Omit<TrainSettings, 'data' | 'out'> {
  return {
    steps: intFlag(args, 'steps', undefined, 1),
    batch: intFlag(args, 'batch', undefined, 1),
    seq: intFlag(args, 'seq', undefined, 2, maxSeq),
    accum: intFlag(args, 'accum', undefined, 1),
    lr: numberFlag(args, 'lr', undefined, 0),
    minLr: numberFlag(args, 'min-lr', undefined, 0),
    warmup: intFlag(args, 'warmup', undefined, 0),
    weightDecay: numberFlag(args, 'weight-decay', undefined, 0),
    clip: numberFlag(args, 'clip', undefined, 0),
    seed: intFlag(args, 'seed', undefined, 0),
    evalEvery: intFlag(args, 'eval-every', undefined, 0),
    evalBatches: intFlag(args, 'eval-batches', undefined, 1),
    saveEvery: intFlag(args, 'save-every', undefined, 0),
    resume: args.flags.has('resume'),
    saveDtype: saveDtypeFlag(args),
    cudaGraph: args.flags.has('cuda-graph'),
  };
}

/** The LoRA config from --lora and its companions (undefined without --lora: full fine-tuning). */
function loraFlags(args: Args): LoraConfig | undefined {
  const rank = intFlag(args, 'lora', undefined, 1);
  if (rank === undefined) {
    for (const flag of ['lora-alpha', 'lora-dropout', 'lora-targets']) if (args.flags.has(flag)) throw new Error(`--${flag}: only with --lora <rank>`);
    return undefined;
  }
  const targets = listFlag(args, 'lora-targets').flatMap((v) => v.split(',')).map((t) => t.trim()).filter((t) => t !== '');
  for (const t of targets) if (!(t in LORA_TARGETS)) throw new Error(`--lora-targets: '${t}', expected some of ${Object.keys(LORA_TARGETS).join(',')}`);
  return {
    rank,
    alpha: numberFlag(args, 'lora-alpha', LORA_DEFAULTS.alphaPerRank * rank, 0),
    dropout: numberFlag(args, 'lora-dropout', LORA_DEFAULTS.dropout, 0, 0.99),
    targetModules: (targets.length > 0 ? targets as LoraTarget[] : LORA_DEFAULTS.targets).map((t) => LORA_TARGETS[t]),
  };
}

/** --save-dtype, checked (also `lora merge`'s). */
export function saveDtypeFlag(args: Args): TrainOptions['saveDtype'] | undefined {
  const value = stringFlag(args, 'save-dtype');
  if (value !== undefined && value !== 'float32' && value !== 'bfloat16') throw new Error(`--save-dtype: '${value}', expected float32 or bfloat16`);
  return value;
}

/** `--gpus N`: start N ranks of this same command (lib/cli/launch.ts) and wait for them. */
async function launchGpus(gpus: number): Promise<void> {
  const { probeCuda } = await import('../backend/cuda/register.js');
  const probe = probeCuda();
  if (!probe.driver) throw new Error(`--gpus ${gpus}: no usable GPU (${probe.reason})`);
  const count = probe.driver.deviceCount();
  if (gpus > count) throw new Error(`--gpus ${gpus}: this machine has ${count} GPU${count === 1 ? '' : 's'}`);
  const { launchRanks, withoutGpusFlag } = await import('./launch.js');
  process.exitCode = await launchRanks(gpus, process.execPath, [...process.execArgv, process.argv[1]!, ...withoutGpusFlag(process.argv.slice(2))]);
}

/**
 * Run the loop with progress on the terminal; Ctrl-C stops after the step and saves a checkpoint. As a
 * rank of a data-parallel run (torchrun's variables set, as --gpus sets them): on this rank's GPU, the
 * gradients averaged with the other ranks' through NCCL; rank 0 alone prints and writes.
 */
async function runLoop(label: string, settings: TrainSettings, args: Args): Promise<void> {
  const { initBackend, parseBackendName, parseMatmulPrecision } = await import('../backend/init.js');
  const gpus = intFlag(args, 'gpus', undefined, 1);
  const ranks = ranksFromEnv();
  const backend = parseBackendName(optionValue(args, BACKEND_OPTION)!);
  if (gpus !== undefined && ranks) throw new Error('--gpus: this process is already a rank of a data-parallel run (WORLD_SIZE is set); start ranks with --gpus or with torchrun\'s variables, not both');
  if ((gpus !== undefined || ranks) && backend !== 'auto' && backend !== 'cuda') throw new Error(`data-parallel training runs on cuda, not --backend ${backend}`);
  if (gpus !== undefined) return launchGpus(gpus);
  const { train } = await import('../train/loop.js');
  const leader = !ranks || ranks.rank === 0;
  await initBackend(ranks ? 'cuda' : backend, { matmul: parseMatmulPrecision(optionValue(args, MATMUL_OPTION)!), device: ranks?.localRank, quiet: !leader });
  const sync = ranks ? await (await import('../train/nccl-sync.js')).NcclSync.open(ranks) : undefined;
  try {
    await trainWithProgress(label, { ...settings, sync }, leader, train);
  } catch (err) {
    sync?.dispose(true); // this rank fails alone: abort, exit non-zero, and the launcher stops the others
    throw err;
  }
  sync?.dispose();
}

/** The loop with progress on the terminal (rank 0's), and Ctrl-C handled. */
async function trainWithProgress(label: string, settings: TrainSettings, leader: boolean, train: typeof import('../train/loop.js').train): Promise<void> {
  let stop = false;
  const say = leader ? (line: string) => console.log(line) : () => {}; // the other ranks train quietly
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    if (leader) console.error('\ntinyllm: stopping after this step and writing a checkpoint (Ctrl-C again quits at once)');
  };
  process.on('SIGINT', onSigint);
  let progress: Progress | null = null;
  const reference: Partial<Record<'train' | 'val', Progress>> = {};
  const result = await train(settings, !leader ? { shouldStop: () => stop } : {
    onReference: (split, done, total) => (reference[split] ??= new Progress(`reference log-probabilities (${split})`, total, ' examples')).update(done),
    onStart: (_model, _tokenizer, startStep, o) => {
      const rows = (label === 'dpo' ? 2 * o.batch : o.batch) * o.accum * (o.sync?.worldSize ?? 1);
      const width = label === 'train' ? formatCount(rows * o.seq) : `≤ ${formatCount(rows * o.seq)}`;
      const ranks = o.sync ? ` on ${o.sync.worldSize} GPUs` : '';
      console.log(`${label}: ${o.resume ? 'resuming' : 'new run'} in ${o.out}${ranks}; ${width} tokens/step, ${o.steps} steps`);
      progress = new Progress(label, o.steps, ' steps', startStep);
    },
    onStep: (m) => {
      // Validation results stay on screen as lines of their own; the bar below keeps moving.
      const accuracy = (v: number | undefined) => (v === undefined ? '' : `  reward accuracy ${(100 * v).toFixed(1)}%`);
      if (m.val_loss !== undefined) progress!.log(`step ${String(m.step).padStart(6)}  loss ${m.loss.toFixed(3)}  val ${m.val_loss.toFixed(3)}${accuracy(m['val_rewards/accuracies'])}  lr ${m.lr.toExponential(2)}`);
      progress!.update(m.step, `loss ${m.loss.toFixed(3)} · ${m.tok_s} tok/s`);
    },
    shouldStop: () => stop,
  });
  process.off('SIGINT', onSigint);
  const last = result.history[result.history.length - 1];
  const before = result.initialValLoss !== undefined ? ` (${result.initialValLoss.toFixed(4)} before training)` : '';
  if (last) say(`step ${last.step}: loss ${last.loss.toFixed(4)}${last.val_loss !== undefined ? `, val ${last.val_loss.toFixed(4)}${before}` : ''}`);
  result.model.dispose();
  if (result.stopped) {
    say(`stopped: checkpoint saved in ${settings.out}; continue with the same command and --resume`);
    process.exitCode = 130;
  } else {
    say(`wrote ${settings.out}/final`);
  }
}

export const trainCommand: Command = {
  summary: 'pretrain a model on token shards (checkpoints, --resume, Ctrl-C saves a checkpoint)',
  options: [
    { name: 'data', value: '<dir>', required: true, help: 'token shards made by `tinyllm data prepare`' },
    { name: 'out', value: '<dir>', required: true, help: 'run directory: checkpoints step-NNNNNN/, metrics.jsonl, final/' },
    PRESET_OPTION,
    ...loopOptions(TRAIN_DEFAULTS, DERIVED_DEFAULTS.seq),
  ],
  notes: presetLines,
  async run(args) {
    const data = requiredFlag(args, 'data');
    const config = presetConfig(optionValue(args, PRESET_OPTION)!, { vocabSize: readShardIndex(data).vocabSize });
    await runLoop('train', { data, out: requiredFlag(args, 'out'), config, ...loopSettings(args, config.maxSeq) }, args);
  },
};

export const sftCommand: Command = {
  summary: 'fine-tune a model on chat conversations (loss on the assistant replies only; checkpoints, --resume)',
  options: [
    { name: 'model', value: '<dir>', required: true, help: 'model directory to start from (e.g. datasets/models/base or a run\'s final/)' },
    { name: 'data', value: '<dir>', required: true, help: 'SFT examples made by `tinyllm data prepare --format sft`' },
    { name: 'out', value: '<dir>', required: true, help: 'run directory: checkpoints step-NNNNNN/, metrics.jsonl, final/ (a chat model)' },
    ...loopOptions(SFT_DEFAULTS, DERIVED_DEFAULTS.sftSeq),
    ...LORA_OPTIONS,
  ],
  notes: () => [
    'Batches are right-padded to their longest conversation (a multiple of 32 tokens) with weight 0 on the',
    'padding; the loss is the mean over assistant tokens (their content and <|im_end|>). Validation uses the',
    "data's val split. final/ carries the tokenizer with its chat template: `tinyllm chat --model <out>/final`.",
  ],
  async run(args) {
    await runLoop('sft', { data: requiredFlag(args, 'data'), out: requiredFlag(args, 'out'), init: requiredFlag(args, 'model'), lora: loraFlags(args), ...loopSettings(args) }, args);
  },
};

export const dpoCommand: Command = {
  summary: 'align a chat model with preference pairs (DPO against a frozen reference; checkpoints, --resume)',
  options: [
    { name: 'model', value: '<dir>', required: true, help: 'model directory to start from, usually an SFT model (e.g. datasets/models/chat)' },
    { name: 'data', value: '<dir>', required: true, help: 'pairs made by `tinyllm data prepare --format dpo`' },
    { name: 'out', value: '<dir>', required: true, help: 'run directory: checkpoints, metrics.jsonl, reference-logps.safetensors, final/' },
    { name: 'ref', value: '<dir>', default: 'the --model', help: 'the reference model (its log-probabilities are computed once, before training)' },
    { name: 'beta', value: '<b>', default: DPO_OPTIONS.beta, help: 'how far the model may move from the reference: smaller lets it move further' },
    { name: 'loss', value: 'sigmoid|ipo', default: DPO_OPTIONS.loss, help: "DPO's −log σ(β·margin), or IPO's squared loss on per-token means" },
    { name: 'sft-weight', value: '<w>', default: DPO_OPTIONS.sftWeight, help: 'add w × the NLL of the chosen answers (keeps them likely; against collapse)' },
    ...loopOptions(DPO_DEFAULTS, DERIVED_DEFAULTS.sftSeq),
    ...LORA_OPTIONS,
  ],
  notes: () => [
    '--batch counts pairs: each runs as two rows, chosen and rejected, in one batch. The loss uses the',
    "summed log-probabilities of each answer's tokens (and <|im_end|>). metrics.jsonl has TRL's names:",
    'rewards/chosen and rewards/rejected (β × each answer\'s log-ratio to the reference), rewards/accuracies',
    '(share of pairs whose chosen reward is higher), rewards/margins, logps/chosen, logps/rejected; val_… on',
    'the val split. With --lora the reference is the model without the adapter (it starts as a no-op).',
  ],
  async run(args) {
    const loss = stringFlag(args, 'loss', DPO_OPTIONS.loss)!;
    if (loss !== 'sigmoid' && loss !== 'ipo') throw new Error(`--loss: '${loss}', expected sigmoid or ipo`);
    const dpo = { beta: numberFlag(args, 'beta', DPO_OPTIONS.beta, 0), loss: loss as 'sigmoid' | 'ipo', sftWeight: numberFlag(args, 'sft-weight', DPO_OPTIONS.sftWeight, 0) };
    if (!(dpo.beta > 0)) throw new Error(`--beta: ${dpo.beta}, expected a number > 0`);
    await runLoop('dpo', {
      data: requiredFlag(args, 'data'), out: requiredFlag(args, 'out'), init: requiredFlag(args, 'model'), ref: stringFlag(args, 'ref'),
      dpo, lora: loraFlags(args), ...loopSettings(args),
    }, args);
  },
};
