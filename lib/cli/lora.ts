// `tinyllm lora merge`: fold a LoRA adapter into its base model's weights (W += (α/r)·B·A), giving a plain
// model directory that every tool loads without knowing about adapters.
import { optionValue, requiredFlag } from './args.js';
import { BACKEND_OPTION, type Command } from './command.js';
import { saveDtypeFlag } from './train.js';

const merge: Command = {
  summary: 'merge a LoRA adapter into its base model: a plain model directory with the same outputs',
  options: [
    { name: 'model', value: '<dir>', required: true, help: 'the base model directory the adapter was trained on' },
    { name: 'adapter', value: '<dir>', required: true, help: "the adapter (adapter_config.json + adapter_model.safetensors, ours or peft's)" },
    { name: 'out', value: '<dir>', required: true, help: 'where to write the merged model directory (with the tokenizer)' },
    { name: 'save-dtype', value: 'float32|bfloat16', default: 'float32', help: 'precision of the merged weights' },
    BACKEND_OPTION,
  ],
  async run(args) {
    const out = requiredFlag(args, 'out');
    const dtype = saveDtypeFlag(args) ?? 'float32';
    const { existsSync } = await import('node:fs');
    if (existsSync(`${out}/config.json`)) throw new Error(`${out}: already holds a model (config.json); choose another --out or delete it`);
    const { initBackend, parseBackendName } = await import('../backend/init.js');
    const { saveModelDir } = await import('../io/model-dir.js');
    const { loadModelWithAdapter } = await import('../io/peft.js');
    await initBackend(parseBackendName(optionValue(args, BACKEND_OPTION)!), { quiet: true });
    const { model, tokenizer } = loadModelWithAdapter(requiredFlag(args, 'model'), requiredFlag(args, 'adapter'));
    try {
      const modules = model.adapter!.modules.length;
      model.adapter!.merge();
      saveModelDir(model, out, { tokenizer: tokenizer ?? undefined, dtype });
      console.log(`wrote ${out}: ${modules} projections merged`);
    } finally {
      model.dispose();
    }
  },
};

export const LORA_COMMANDS: Record<string, Command> = { 'lora merge': merge };
