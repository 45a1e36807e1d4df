// Checkpoints: everything needed to continue a run exactly — the model directory (loadable by
// transformers as it is; with LoRA, the adapter beside it), the optimizer's moments, the data position
// and the step — in `step-NNNNNN/`
// under the run directory. The directory is written as `step-NNNNNN.tmp/` and renamed when complete,
// so a crash mid-save leaves the previous checkpoint as the latest.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModelDir, saveModelDir } from '../io/model-dir.js';
import { isAdapterDir, loadAdapter, saveAdapter } from '../io/peft.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import type { LoaderPosition } from '../data/loader.js';
import type { LlamaModel } from '../model/model.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { AdamW } from './adamw.js';

/** The training state beside the weights, as stored in state.json. */
export interface TrainState {
  /** Optimizer steps done. */
  step: number;
  /** Tokens trained on so far. */
  tokens: number;
  /** AdamW's update count. */
  adamT: number;
  /** Seed of the data order (the run's only randomness after initialisation) and where the loader stands. */
  seed: number;
  data: LoaderPosition;
}

/** The directory name of a step's checkpoint. */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/** Save a checkpoint of `model`, `optimizer` and `state` under `runDir`; returns its directory. */
export function saveCheckpoint(runDir: string, model: LlamaModel, optimizer: AdamW, state: TrainState, tokenizer?: Tokenizer): string {
  const dir = join(runDir, checkpointName(state.step));
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  saveModelDir(model, tmp, { tokenizer });
  if (model.adapter) saveAdapter(model.adapter, tmp); // beside the frozen base it adapts
  writeSafetensors(join(tmp, 'optimizer.safetensors'), optimizer.stateTensors());
  writeFileAtomic(join(tmp, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}

/** The newest complete checkpoint directory under `runDir`, or null. */
export function latestCheckpoint(runDir: string): string | null {
  if (!existsSync(runDir)) return null;
  const names = readdirSync(runDir).filter((n) => /^step-\d{6,}$/.test(n)).sort();
  return names.length > 0 ? join(runDir, names[names.length - 1]!) : null;
}

/** Load a checkpoint: the model and tokenizer, the state, and a function that restores the optimizer. */
export function loadCheckpoint(dir: string): { model: LlamaModel; tokenizer: Tokenizer | null; state: TrainState; restoreOptimizer: (o: AdamW) => void } {
  const stateFile = join(dir, 'state.json');
  if (!existsSync(stateFile)) throw new Error(`${dir}: no state.json, expected a checkpoint written by tinyllm train`);
  let state: TrainState;
  try {
    state = JSON.parse(readFileSync(stateFile, 'utf8')) as TrainState;
  } catch (err) {
    throw new Error(`${stateFile}: not valid JSON (${(err as Error).message})`);
  }
  for (const field of ['step', 'tokens', 'adamT', 'seed'] as const) {
    if (!Number.isInteger(state[field])) throw new Error(`${stateFile}: ${field}: ${JSON.stringify(state[field])}, expected an integer`);
  }
  const { model, tokenizer } = loadModelDir(dir);
  if (isAdapterDir(dir)) loadAdapter(model, dir);
  const optimizerFile = join(dir, 'optimizer.safetensors');
  return {
    model, tokenizer, state,
    restoreOptimizer: (optimizer) => optimizer.loadState(readSafetensors(optimizerFile).tensors, state.adamT, optimizerFile),
  };
}
