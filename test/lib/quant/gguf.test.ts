// GGUF: the writer's bytes for a hand-made file (header, one key-value pair of each type the export
// uses, tensor infos, alignment), our reader on them; the query/key row order for llama.cpp's RoPE
// (index form, and that it turns Hugging Face's rotate-half RoPE into llama.cpp's adjacent pairs); a
// model directory exported and read back (metadata, names, dims, types, bytes); and the export's errors.
// llama.cpp itself reads our files in llama-cpp.test.ts.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../lib/backend/init.js';
import { floatToHalf } from '../../../lib/io/float16.js';
import { gguf, type GgufTensor, type GgufValue, readGguf, writeGguf } from '../../../lib/io/gguf.js';
import { exportGguf, ggufTensorType, parseExportType, permuteRopeRows } from '../../../lib/io/gguf-export.js';
import { saveModelDir, toHfConfig } from '../../../lib/io/model-dir.js';
import { readSafetensors } from '../../../lib/io/safetensors.js';
import { presetConfig } from '../../../lib/model/config.js';
import { LlamaModel } from '../../../lib/model/model.js';
import { QUANT_FORMATS, quantize } from '../../../lib/quant/types.js';
import { CHAT_TEMPLATE_JINJA } from '../../../lib/tokenizer/chat.js';
import { loadTokenizer } from '../../../lib/tokenizer/files.js';

await initBackend('cpu', { quiet: true });
const tempDir = () => mkdtempSync(join(tmpdir(), 'gguf-'));
const tinyllm = (...argv: string[]) => spawnSync(process.execPath, ['lib/cli/tinyllm.js', ...argv], { encoding: 'utf8' });

// Little-endian pieces, written out by hand for the expected bytes.
const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const u64 = (n: number) => [...u32(n), 0, 0, 0, 0];
const str = (s: string) => [...u64(Buffer.byteLength(s)), ...Buffer.from(s)];
const f32 = (x: number) => Array.from(new Uint8Array(Float32Array.of(x).buffer));

describe('GGUF writer and reader', () => {
  const metadata: [string, GgufValue][] = [
    ['general.architecture', gguf.str('llama')],
    ['llama.block_count', gguf.u32(2)],
    ['llama.rope.freq_base', gguf.f32(10000)],
    ['tokenizer.ggml.add_bos_token', gguf.bool(false)],
    ['tokenizer.ggml.token_type', gguf.array('i32', [3, -1])],
    ['tokenizer.ggml.tokens', gguf.array('string', ['a', 'é'])],
  ];
  const tensors: GgufTensor[] = [
    { name: 'x', dims: [3], type: 'F32', bytes: new Uint8Array(Float32Array.of(1, 2, 3).buffer) },
    { name: 'w', dims: [2, 1], type: 'F16', bytes: () => Uint8Array.of(0x00, 0x3c, 0x00, 0xc0) },
  ];

  it('writes the header, each value type, tensor infos and 32-byte alignment byte for byte', () => {
    const file = join(tempDir(), 'tiny.gguf');
    expect(writeGguf(file, metadata, tensors)).toBe(448);
    const expected = [
      ...u32(0x46554747), ...u32(3), ...u64(2), ...u64(6), // magic "GGUF", version 3, 2 tensors, 6 key-value pairs
      ...str('general.architecture'), ...u32(8), ...str('llama'), // string
      ...str('llama.block_count'), ...u32(4), ...u32(2), // u32
      ...str('llama.rope.freq_base'), ...u32(6), ...f32(10000), // f32
      ...str('tokenizer.ggml.add_bos_token'), ...u32(7), 0, // bool: one byte
      ...str('tokenizer.ggml.token_type'), ...u32(9), ...u32(5), ...u64(2), ...u32(3), ...u32(0xffffffff), // array of i32
      ...str('tokenizer.ggml.tokens'), ...u32(9), ...u32(8), ...u64(2), ...str('a'), ...str('é'), // array of strings (UTF-8)
      ...str('x'), ...u32(1), ...u64(3), ...u32(0), ...u64(0), // F32 [3] at data offset 0
      ...str('w'), ...u32(2), ...u64(2), ...u64(1), ...u32(1), ...u64(32), // F16 {2, 1} at 32: x's 12 bytes padded to 32
    ];
    expect(expected.length).toBe(374); // 24 header + 276 metadata + 74 tensor infos
    expected.push(...new Array(10).fill(0)); // to 384, a multiple of 32: the data section
    expected.push(...f32(1), ...f32(2), ...f32(3), ...new Array(20).fill(0));
    expected.push(0x00, 0x3c, 0x00, 0xc0, ...new Array(28).fill(0)); // 1.0, -2.0 as float16; padded too
    expect(Array.from(readFileSync(file))).toEqual(expected);
    expect(readGguf(file).dataOffset).toBe(384);
    expect(readdirSync(join(file, '..'))).toEqual(['tiny.gguf']); // the .tmp was renamed
  });

  it('reads back what it wrote: metadata with types, tensor infos, tensor bytes', () => {
    const file = join(tempDir(), 'tiny.gguf');
    writeGguf(file, metadata, tensors);
    const back = readGguf(file);
    expect(back.version).toBe(3);
    expect(back.alignment).toBe(32);
    expect([...back.metadata]).toEqual(metadata);
    expect(back.tensors).toEqual([
      { name: 'x', dims: [3], type: 'F32', offset: 0, size: 12 },
      { name: 'w', dims: [2, 1], type: 'F16', offset: 32, size: 4 },
    ]);
    expect(Array.from(new Float32Array(back.data('x').slice().buffer))).toEqual([1, 2, 3]);
    expect(Array.from(back.data('w'))).toEqual([0x00, 0x3c, 0x00, 0xc0]);
    expect(() => readGguf(new Uint8Array(8))).toThrow('gguf: magic 0x0, expected 0x46554747 ("GGUF"): not a GGUF file');
  });

  it('checks values and tensors before writing, and leaves no file (nor .tmp) when a tensor fails mid-write', () => {
    const dir = tempDir();
    const file = join(dir, 'bad.gguf');
    expect(() => writeGguf(file, [['k', gguf.u32(-1)]], [])).toThrow('gguf: k: -1 is not a valid u32');
    expect(() => writeGguf(file, [['k', gguf.u8(1)], ['k', gguf.u8(2)]], [])).toThrow("gguf: metadata key 'k' appears twice");
    expect(() => writeGguf(file, [], [{ name: 'q', dims: [33, 2], type: 'Q8_0', bytes: new Uint8Array(0) }]))
      .toThrow("gguf: tensor 'q': rows of 33 values cannot be Q8_0 (blocks of 32), expected a multiple of 32");
    expect(() => writeGguf(file, [], [tensors[0]!, { name: 'y', dims: [3], type: 'F32', bytes: new Uint8Array(8) }]))
      .toThrow("gguf: tensor 'y': 8 bytes for F32 [3], expected 12");
    expect(() => writeGguf(file, [], [{ name: 'z', dims: [4], type: 'F32', bytes: () => { throw new Error('out of memory'); } }])).toThrow('out of memory');
    expect(readdirSync(dir)).toEqual([]);
    // Renaming onto a folder fails after the whole file was written: the .tmp goes too.
    mkdirSync(join(dir, 'taken.gguf'));
    writeFileSync(join(dir, 'taken.gguf', 'x'), '');
    expect(() => writeGguf(join(dir, 'taken.gguf'), metadata, tensors)).toThrow(`${join(dir, 'taken.gguf')}: cannot write`);
    expect(() => writeGguf(join(dir, 'no/such/folder.gguf'), metadata, tensors)).toThrow(/no\/such\/folder\.gguf: cannot write \(ENOENT.*\), expected a writable path in an existing folder/);
    expect(readdirSync(dir)).toEqual(['taken.gguf']);
  });
});

describe('query/key rows for llama.cpp RoPE', () => {
  it('GGUF row h·Dh + 2j + s is HF row h·Dh + s·Dh/2 + j (index form)', () => {
    // Two heads of width 4, one column: each value is its HF row.
    expect(Array.from(permuteRopeRows(Float32Array.from({ length: 8 }, (_, i) => i), 2, 1))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    // Whole rows move: 3 heads of width 6, rows of 5.
    const heads = 3, dh = 6, cols = 5;
    const values = Float32Array.from({ length: heads * dh * cols }, (_, i) => i);
    const out = permuteRopeRows(values, heads, cols);
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j < dh / 2; j++) {
        for (let s = 0; s < 2; s++) {
          for (let c = 0; c < cols; c++) expect(out[(h * dh + 2 * j + s) * cols + c]).toBe(values[(h * dh + s * (dh / 2) + j) * cols + c]);
        }
      }
    }
  });

  it("turns HF's rotate-half RoPE into llama.cpp's adjacent-pair RoPE: rope_pairs(P q) = P rope_half(q)", () => {
    const dh = 8, theta = 10000, p = 7;
    const q = Float32Array.from({ length: dh }, (_, i) => Math.sin(3 * i + 1));
    const angle = (i: number) => p * theta ** ((-2 * i) / dh);
    const half = new Float32Array(dh); // HF: channel i pairs with i + Dh/2
    for (let i = 0; i < dh / 2; i++) {
      const [c, s] = [Math.cos(angle(i)), Math.sin(angle(i))];
      half[i] = q[i]! * c - q[i + dh / 2]! * s;
      half[i + dh / 2] = q[i + dh / 2]! * c + q[i]! * s;
    }
    const pq = permuteRopeRows(q, 1, 1);
    const pairs = new Float32Array(dh); // llama.cpp (LLAMA_ROPE_TYPE_NORM): channel 2i pairs with 2i + 1
    for (let i = 0; i < dh / 2; i++) {
      const [c, s] = [Math.cos(angle(i)), Math.sin(angle(i))];
      pairs[2 * i] = pq[2 * i]! * c - pq[2 * i + 1]! * s;
      pairs[2 * i + 1] = pq[2 * i]! * s + pq[2 * i + 1]! * c;
    }
    const want = permuteRopeRows(half, 1, 1);
    pairs.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
  });
});

describe('tensor types', () => {
  it('norms F32; weights in the requested type; F16 where a row is not whole 32-value blocks', () => {
    const cases: [number[], string, string][] = [
      [[120], 'q4_0', 'F32'], [[120, 384], 'f32', 'F32'], [[120, 384], 'f16', 'F16'], [[120, 384], 'q8_0', 'Q8_0'],
      [[120, 384], 'q4_0', 'Q4_0'], [[384, 120], 'q8_0', 'F16'], [[6400, 120], 'q4_0', 'F16'], [[64, 64], 'q4_0', 'Q4_0'],
    ];
    for (const [shape, type, want] of cases) expect(`${shape} ${type} ${ggufTensorType(shape, parseExportType(type)).type}`).toBe(`${shape} ${type} ${want}`);
    expect(() => parseExportType('q3_k')).toThrow("--type: 'q3_k', expected one of f32, f16, q8_0, q4_0");
  });
});

describe('exportGguf', () => {
  // Grouped-query attention (k with 2 heads), tied embeddings (no output.weight), every row whole blocks,
  // and 32 more embedding rows than the tokenizer has tokens (the converter's [PAD…] entries).
  const tokenizer = loadTokenizer('datasets/tokenizer');
  const config = presetConfig('nano', { vocabSize: 6432, hidden: 64, ffn: 96, layers: 2, heads: 4, kvHeads: 2, maxSeq: 64, tieEmbeddings: true });
  const modelDir = join(tempDir(), 'tiny');
  const model = LlamaModel.create(config, 3);
  saveModelDir(model, modelDir, { tokenizer });
  model.dispose();
  const weights = readSafetensors(join(modelDir, 'model.safetensors')).tensors;

  it('writes the metadata llama.cpp reads, with our tokenizer', () => {
    const file = join(tempDir(), 'tiny.gguf');
    exportGguf(modelDir, file, 'q8_0');
    const { metadata } = readGguf(file);
    const value = (key: string) => metadata.get(key)?.value;
    expect(Object.fromEntries([...metadata].filter(([, v]) => v.type !== 'array').map(([k, v]) => [k, [v.type, v.value]]))).toEqual({
      'general.architecture': ['string', 'llama'], 'general.type': ['string', 'model'], 'general.name': ['string', 'tiny'],
      'llama.block_count': ['u32', 2], 'llama.context_length': ['u32', 64], 'llama.embedding_length': ['u32', 64],
      'llama.feed_forward_length': ['u32', 96], 'llama.attention.head_count': ['u32', 4], 'llama.attention.head_count_kv': ['u32', 2],
      'llama.rope.freq_base': ['f32', 10000], 'llama.attention.layer_norm_rms_epsilon': ['f32', Math.fround(1e-5)],
      'llama.attention.key_length': ['u32', 16], 'llama.attention.value_length': ['u32', 16], 'general.file_type': ['u32', 7],
      'llama.vocab_size': ['u32', 6432], 'llama.rope.dimension_count': ['u32', 16], 'general.quantization_version': ['u32', 2],
      'tokenizer.ggml.add_space_prefix': ['bool', false], 'tokenizer.ggml.model': ['string', 'gpt2'], 'tokenizer.ggml.pre': ['string', 'qwen2'],
      'tokenizer.ggml.eos_token_id': ['u32', 2], 'tokenizer.ggml.padding_token_id': ['u32', 0],
      'tokenizer.ggml.add_bos_token': ['bool', false], 'tokenizer.ggml.add_eos_token': ['bool', false],
      'tokenizer.chat_template': ['string', CHAT_TEMPLATE_JINJA],
    });
    const tokens = value('tokenizer.ggml.tokens') as string[];
    const types = value('tokenizer.ggml.token_type') as number[];
    expect([metadata.get('tokenizer.ggml.tokens'), metadata.get('tokenizer.ggml.token_type')]).toMatchObject([{ type: 'array', itemType: 'string' }, { type: 'array', itemType: 'i32' }]);
    expect(tokens.length).toBe(6432);
    expect(tokens.slice(0, 4)).toEqual(['<|endoftext|>', '<|im_start|>', '<|im_end|>', tokenizer.model.tokens[3]]);
    expect(tokens[6400]).toBe('[PAD6400]');
    expect(tokens.slice(0, 6400)).toEqual(tokenizer.model.tokens);
    expect([types.slice(0, 4), types[6399], types[6400], types[6431]]).toEqual([[3, 3, 3, 1], 1, 5, 5]);
    const merges = value('tokenizer.ggml.merges') as string[];
    expect(merges.length).toBe(tokenizer.model.merges.length);
    expect(merges[0]).toBe(tokenizer.model.merges[0]!.join(' '));
    expect(metadata.has('tokenizer.ggml.bos_token_id')).toBe(false);
  });

  it("writes every tensor under llama.cpp's name, dims innermost first, q/k rows reordered, no output.weight when tied", () => {
    const file = join(tempDir(), 'tiny.gguf');
    const report = exportGguf(modelDir, file, 'q8_0');
    const back = readGguf(file);
    expect(back.tensors.map((t) => `${t.name} ${t.type} {${t.dims}}`)).toEqual([
      'token_embd.weight Q8_0 {64,6432}',
      ...[0, 1].flatMap((i) => [
        `blk.${i}.attn_norm.weight F32 {64}`, `blk.${i}.attn_q.weight Q8_0 {64,64}`, `blk.${i}.attn_k.weight Q8_0 {64,32}`,
        `blk.${i}.attn_v.weight Q8_0 {64,32}`, `blk.${i}.attn_output.weight Q8_0 {64,64}`, `blk.${i}.ffn_norm.weight F32 {64}`,
        `blk.${i}.ffn_gate.weight Q8_0 {64,96}`, `blk.${i}.ffn_up.weight Q8_0 {64,96}`, `blk.${i}.ffn_down.weight Q8_0 {96,64}`,
      ]),
      'output_norm.weight F32 {64}',
    ]);
    expect(report.tensors.map((t) => t.name)).toEqual(back.tensors.map((t) => t.name));
    back.tensors.forEach((t) => expect(t.offset % 32).toBe(0));
    const rowBytes = (64 / 32) * 34;
    // Q8_0 rows are quantized on their own, so GGUF row r holds HF row src(r) quantized.
    for (const [proj, heads] of [['q', 4], ['k', 2], ['v', 0]] as const) {
      const hf = weights.get(`model.layers.1.self_attn.${proj}_proj.weight`)!;
      const data = back.data(`blk.1.attn_${proj}.weight`);
      const rows = hf.shape[0]!;
      for (let r = 0; r < rows; r++) {
        const [h, j, s] = [Math.floor(r / 16), Math.floor((r % 16) / 2), r % 2];
        const src = heads ? h * 16 + s * 8 + j : r; // v is not rotated: rows unchanged
        const want = quantize(hf.values.subarray(src * 64, src * 64 + 64), QUANT_FORMATS.q8_0);
        expect(Buffer.from(data.subarray(r * rowBytes, (r + 1) * rowBytes)).equals(Buffer.from(want)), `${proj} row ${r}`).toBe(true);
      }
    }
    const norm = weights.get('model.layers.0.input_layernorm.weight')!.values;
    expect(Array.from(new Float32Array(back.data('blk.0.attn_norm.weight').slice().buffer))).toEqual(Array.from(norm));
  });

  it('--type f16 stores the weights as float16 and says so in general.file_type', () => {
    const file = join(tempDir(), 'tiny.gguf');
    exportGguf(modelDir, file, 'f16');
    const back = readGguf(file);
    expect(back.metadata.get('general.file_type')!.value).toBe(1);
    expect(new Set(back.tensors.filter((t) => t.dims.length === 2).map((t) => t.type))).toEqual(new Set(['F16']));
    const embed = weights.get('model.embed_tokens.weight')!.values;
    const halves = new Uint16Array(back.data('token_embd.weight').slice().buffer);
    for (const i of [0, 1, 777, embed.length - 1]) expect(halves[i]).toBe(floatToHalf(embed[i]!));
  });

  it('refuses a mixture-of-experts model, naming it', () => {
    const dir = join(tempDir(), 'moe');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(presetConfig('minimind-moe', { vocabSize: 6400 }))));
    expect(() => exportGguf(dir, join(dir, 'x.gguf'), 'q8_0')).toThrow(`export: ${dir} is a mixture-of-experts model; GGUF export supports dense llama models only`);
    expect(readdirSync(dir)).toEqual(['config.json']);
  });
});

describe('tinyllm export', () => {
  it('--help lists the options with their defaults', () => {
    const run = tinyllm('export', '--help');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('usage: tinyllm export --model <dir> --out <file> [options]');
    expect(run.stdout).toMatch(/--type f32\|f16\|q8_0\|q4_0 .*\(default f16\)/);
    expect(run.stdout).toMatch(/--format gguf .*\(default gguf\)/);
  });

  it('exports the shipped chat model as q8_0, printing which tensors got which type', () => {
    const dir = tempDir();
    const run = tinyllm('export', '--model', 'datasets/models/chat', '--type', 'q8_0', '--out', join(dir, 'chat.gguf'));
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('Q8_0: 6 tensors: blk.*.ffn_down.weight ×6');
    expect(run.stdout).toContain('F16 (rows of 120 values are not whole 32-value blocks): 38 tensors: token_embd.weight, blk.*.attn_q.weight ×6');
    expect(run.stdout).toContain('F32 (norms): 13 tensors');
    expect(run.stdout).toMatch(/wrote .*chat\.gguf: 57 tensors, 5\.14 MiB, --type q8_0/);
    expect(readdirSync(dir)).toEqual(['chat.gguf']);
    const back = readGguf(join(dir, 'chat.gguf'));
    expect([back.metadata.get('general.name')!.value, back.metadata.get('general.file_type')!.value]).toEqual(['chat', 7]);
    expect(back.tensors.at(-1)!.name).toBe('output.weight'); // untied: the head is written
  });

  const dir = tempDir();
  writeFileSync(join(dir, 'a-file'), '');
  const moe = join(dir, 'moe');
  mkdirSync(moe);
  writeFileSync(join(moe, 'config.json'), JSON.stringify(toHfConfig(presetConfig('minimind-moe', { vocabSize: 6400 }))));
  it.each([
    ['an unknown --type', ['--type', 'q3_k', '--out', join(dir, 'x.gguf')], "--type: 'q3_k', expected one of f32, f16, q8_0, q4_0"],
    ['an unknown --format', ['--format', 'onnx', '--out', join(dir, 'x.gguf')], "--format: 'onnx', expected gguf"],
    ['--out under a file', ['--out', join(dir, 'a-file', 'x.gguf')], `--out: ${join(dir, 'a-file', 'x.gguf')}: ${join(dir, 'a-file')} is not an existing folder, expected a file path in an existing folder`],
    ['--out a folder', ['--out', dir], `--out: ${dir} is a folder, expected a file path such as ${dir}/model.gguf`],
    ['a mixture-of-experts model', ['--model', moe, '--out', join(dir, 'x.gguf')], `export: ${moe} is a mixture-of-experts model; GGUF export supports dense llama models only`],
  ])('%s fails with one line and writes nothing', (_, args, message) => {
    const argv = args.includes('--model') ? args : ['--model', 'datasets/models/chat', ...args];
    const run = tinyllm('export', ...argv);
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(`tinyllm: ${message}`);
    expect(readdirSync(dir).sort()).toEqual(['a-file', 'moe']);
    expect(readdirSync(moe)).toEqual(['config.json']);
  });
});
