// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}, then the raw tensor bytes.
// We read F32, BF16 and F16 into float32 and write F32 or BF16; U8 tensors (quantized blocks) are raw bytes.
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import { halfToFloat } from './float16.js';

/** A tensor as stored: its shape and its values as float32. */
export interface StoredTensor {
  shape: number[];
  values: Float32Array;
}

/** A tensor of raw bytes (dtype U8): the packed blocks of a quantized weight. */
export interface StoredBytes {
  shape: number[];
  bytes: Uint8Array;
}

/** What a file holds on disk for one tensor. */
export type StorageDtype = 'F32' | 'BF16' | 'F16' | 'U8';

const BYTES: Record<StorageDtype, number> = { F32: 4, BF16: 2, F16: 2, U8: 1 };
const MAX_HEADER = 100 << 20;

/** Read every tensor of a .safetensors file; errors name the file and the tensor. */
export function readSafetensors(file: string): { tensors: Map<string, StoredTensor>; bytes: Map<string, StoredBytes>; metadata: Record<string, string> } {
  if (!existsSync(file)) throw new Error(`${file}: no such file, expected a .safetensors file`);
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw new Error(`${file}: ${size} bytes, too short for a safetensors header`);
    const lengthBytes = Buffer.alloc(8);
    readSync(fd, lengthBytes, 0, 8, 0);
    const headerLength = Number(lengthBytes.readBigUInt64LE(0));
    if (headerLength > MAX_HEADER || 8 + headerLength > size) throw new Error(`${file}: header length ${headerLength} exceeds the file (${size} bytes): truncated or not safetensors`);
    const headerBytes = Buffer.alloc(headerLength);
    readSync(fd, headerBytes, 0, headerLength, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(headerBytes.toString('utf8'));
    } catch (err) {
      throw new Error(`${file}: header is not valid JSON (${(err as Error).message})`);
    }
    const dataStart = 8 + headerLength;
    const dataLength = size - dataStart;
    const tensors = new Map<string, StoredTensor>();
    const byteTensors = new Map<string, StoredBytes>();
    const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const { dtype, shape, data_offsets: offsets } = entry as { dtype?: string; shape?: number[]; data_offsets?: number[] };
      if (!dtype || !(dtype in BYTES)) throw new Error(`${file}: ${name}: dtype ${JSON.stringify(dtype)} is not supported, expected F32, BF16, F16 or U8`);
      if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${file}: ${name}: shape ${JSON.stringify(shape)}, expected a list of sizes`);
      if (!Array.isArray(offsets) || offsets.length !== 2) throw new Error(`${file}: ${name}: data_offsets ${JSON.stringify(offsets)}, expected [begin, end]`);
      const [begin, end] = offsets as [number, number];
      const count = shape.reduce((a, b) => a * b, 1);
      const bytes = count * BYTES[dtype as StorageDtype];
      if (end - begin !== bytes) throw new Error(`${file}: ${name}: ${end - begin} bytes for shape [${shape}] of ${dtype}, expected ${bytes}`);
      if (begin < 0 || end > dataLength) throw new Error(`${file}: ${name}: bytes ${begin}..${end} lie outside the data (${dataLength} bytes): file truncated?`);
      const raw = Buffer.alloc(bytes);
      readSync(fd, raw, 0, bytes, dataStart + begin);
      if (dtype === 'U8') byteTensors.set(name, { shape, bytes: new Uint8Array(raw.buffer, raw.byteOffset, raw.length) });
      else tensors.set(name, { shape, values: decode(raw, dtype as Exclude<StorageDtype, 'U8'>, count) });
    }
    return { tensors, bytes: byteTensors, metadata };
  } finally {
    closeSync(fd);
  }
}

/** Write tensors to a .safetensors file atomically, as F32 or BF16 (rounded to nearest even), and byte tensors as U8. */
export function writeSafetensors(file: string, tensors: Map<string, StoredTensor>, dtype: 'F32' | 'BF16' = 'F32', metadata: Record<string, string> = {}, bytes: Map<string, StoredBytes> = new Map()): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.values.length) throw new Error(`${file}: ${name}: ${t.values.length} values for shape [${t.shape}]`);
    const blob = encode(t.values, dtype);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + blob.length] };
    blobs.push(blob);
    offset += blob.length;
  }
  for (const [name, t] of bytes) {
    if (t.shape.reduce((a, b) => a * b, 1) !== t.bytes.length) throw new Error(`${file}: ${name}: ${t.bytes.length} bytes for shape [${t.shape}]`);
    header[name] = { dtype: 'U8', shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    blobs.push(Buffer.from(t.bytes.buffer, t.bytes.byteOffset, t.bytes.length));
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // pad so the data starts 8-byte aligned
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileAtomic(file, Buffer.concat([length, Buffer.from(json, 'utf8'), ...blobs]));
}

function decode(raw: Buffer, dtype: Exclude<StorageDtype, 'U8'>, count: number): Float32Array {
  const out = new Float32Array(count);
  if (dtype === 'F32') {
    new Uint8Array(out.buffer).set(raw); // copy: the Buffer may be unaligned
    return out;
  }
  const halves = new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = halves[i]! << 16; // bf16 is the top half of a float32
  } else {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(halves[i]!);
  }
  return out;
}

function encode(values: Float32Array, dtype: 'F32' | 'BF16'): Buffer {
  if (dtype === 'F32') return Buffer.from(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const bits = new Uint32Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const b = bits[i]!;
    // NaN stays NaN; otherwise round to nearest, ties to even, on the dropped 16 bits.
    out[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return Buffer.from(out.buffer);
}
