// `tinyllm export`: a model directory as one GGUF file that llama.cpp (llama-cli, llama-server, Ollama,
// LM Studio, node-llama-cpp) runs, with its weights in float32, float16, Q8_0 or Q4_0 (lib/io/gguf-export.ts).
import { requiredFlag, stringFlag } from './args.js';
import { type Command } from './command.js';

export const exportCommand: Command = {
  summary: 'write a model directory as a GGUF file for llama.cpp (f32, f16, q8_0 or q4_0 weights)',
  options: [
    { name: 'model', value: '<dir>', required: true, help: 'a dense Llama model directory (config.json, model.safetensors, tokenizer files)' },
    { name: 'out', value: '<file>', required: true, help: 'the GGUF file to write (replaced if it exists; its folder must exist)' },
    { name: 'format', value: 'gguf', default: 'gguf', help: 'the file format' },
    {
      name: 'type', value: 'f32|f16|q8_0|q4_0', default: 'f16',
      help: 'storage of the 2-D weights; norms stay f32, and a weight whose rows are not whole 32-value blocks is stored f16 under q8_0/q4_0 (as llama.cpp does)',
    },
    { name: 'name', value: '<s>', default: "the model directory's name", help: 'general.name, the model name llama.cpp shows' },
  ],
  async run(args) {
    const model = requiredFlag(args, 'model');
    const out = requiredFlag(args, 'out');
    const format = stringFlag(args, 'format', 'gguf')!;
    if (format !== 'gguf') throw new Error(`--format: '${format}', expected gguf`);
    const { parseExportType, exportGguf } = await import('../io/gguf-export.js');
    const type = parseExportType(stringFlag(args, 'type', 'f16')!);
    const { existsSync, statSync } = await import('node:fs');
    const { dirname } = await import('node:path');
    if (existsSync(out) && statSync(out).isDirectory()) throw new Error(`--out: ${out} is a folder, expected a file path such as ${out.replace(/\/+$/, '')}/model.gguf`);
    const folder = dirname(out);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new Error(`--out: ${out}: ${folder} is not an existing folder, expected a file path in an existing folder`);
    const report = exportGguf(model, out, type, { name: stringFlag(args, 'name') });
    // Which tensors got which type, block tensors folded to blk.*: llama.cpp's converter prints the same choice.
    const groups = new Map<string, Map<string, number>>();
    for (const t of report.tensors) {
      const key = `${t.type}${t.reason === 'rows not whole blocks' ? ` (rows of ${t.dims[0]} values are not whole 32-value blocks)` : t.reason === 'norm' ? ' (norms)' : ''}`;
      const names = groups.get(key) ?? new Map<string, number>();
      const name = t.name.replace(/^blk\.\d+\./, 'blk.*.');
      names.set(name, (names.get(name) ?? 0) + 1);
      groups.set(key, names);
    }
    for (const [key, names] of groups) {
      const count = [...names.values()].reduce((a, b) => a + b, 0);
      console.log(`${key}: ${count} tensors: ${[...names].map(([n, k]) => (k > 1 ? `${n} ×${k}` : n)).join(', ')}`);
    }
    console.log(`wrote ${out}: ${report.tensors.length} tensors, ${(report.bytes / 2 ** 20).toFixed(2)} MiB, --type ${type}`);
  },
};
