// `tinyllm quantize`: a model directory whose projections are stored as Q8_0 or Q4_0 blocks (lib/quant),
// which every command that reads a model (chat, generate, score, eval, and LoRA training on top) runs
// directly. The directory is written next to --out and renamed into place: nothing half-written.
import { optionValue, requiredFlag } from './args.js';
import { BACKEND_OPTION, type Command } from './command.js';
import { saveDtypeFlag } from './train.js';

export const quantizeCommand: Command = {
  summary: 'store a model\'s projections as q8_0 or q4_0 blocks: a smaller model directory every command runs',
  options: [
    { name: 'model', value: '<dir>', required: true, help: 'a float model directory (config.json, model.safetensors, tokenizer files)' },
    { name: 'type', value: 'q8_0|q4_0', required: true, help: 'the block format: 8.5 or 4.5 bits per weight (GGUF\'s Q8_0 and Q4_0)' },
    { name: 'out', value: '<dir>', required: true, help: 'the model directory to write (must not exist, or be empty; its parent must exist)' },
    { name: 'save-dtype', value: 'float32|bfloat16', default: "the model's (config.json torch_dtype)", help: 'precision of what stays in float: embeddings, LM head, norms' },
    BACKEND_OPTION,
  ],
  async run(args) {
    const dir = requiredFlag(args, 'model');
    const out = requiredFlag(args, 'out');
    const { quantFormat } = await import('../quant/types.js');
    const type = quantFormat(requiredFlag(args, 'type')).name as 'q8_0' | 'q4_0';
    const { existsSync, readdirSync, renameSync, rmSync, statSync } = await import('node:fs');
    const { dirname, join } = await import('node:path');
    if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0)) throw new Error(`--out: ${out} already exists and is not an empty folder; choose another --out or delete it`);
    const parent = dirname(out.replace(/\/+$/, ''));
    if (!existsSync(parent) || !statSync(parent).isDirectory()) throw new Error(`--out: ${out}: ${parent} is not an existing folder`);
    const { initBackend, parseBackendName } = await import('../backend/init.js');
    const { loadModelDir, readStorageDtype, saveModelDir } = await import('../io/model-dir.js');
    const dtype = saveDtypeFlag(args) ?? readStorageDtype(dir);
    const { quantizeModel } = await import('../quant/quantize-model.js');
    await initBackend(parseBackendName(optionValue(args, BACKEND_OPTION)!), { quiet: true });
    const { model, tokenizer } = loadModelDir(dir);
    let quantized;
    try {
      quantized = quantizeModel(model, type, dir);
    } finally {
      model.dispose();
    }
    const partial = `${out.replace(/\/+$/, '')}.partial-${process.pid}`;
    try {
      saveModelDir(quantized, partial, { tokenizer: tokenizer ?? undefined, dtype });
      if (existsSync(out)) rmSync(out, { recursive: true }); // the empty folder checked above
      renameSync(partial, out);
    } catch (err) {
      rmSync(partial, { recursive: true, force: true });
      throw err;
    } finally {
      quantized.dispose();
    }
    const mib = (d: string) => (statSync(join(d, 'model.safetensors')).size / 2 ** 20).toFixed(2);
    const kept = quantized.config.tieEmbeddings ? 'embeddings (tied head)' : 'embeddings, LM head';
    console.log(`quantized ${quantized.quantized.size} projections to ${type} (in ${dtype}: ${kept}, norms)`);
    console.log(`wrote ${out}: model.safetensors ${mib(dir)} MiB → ${mib(out)} MiB`);
  },
};
