// GGUF v3, llama.cpp's model file: a little-endian header (magic "GGUF", version 3, tensor count u64,
// key-value count u64), the key-value pairs (key: u64 length + UTF-8; value: type u32 + value; an array
// is element type u32 + count u64 + elements), the tensor infos (name, n_dims u32, dims u64 innermost
// first, ggml type u32, offset u64 into the data section), zero padding to the alignment, and the data
// section: every tensor's bytes, each padded to the alignment (general.alignment, 32 by default).
// The writer streams tensors to `name.tmp` and renames it, so a large model is never held whole and a
// failed export leaves no file; the reader (for tests and checks) reads a whole file.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const VERSION = 3;
/** The alignment of tensor data when general.alignment does not say otherwise. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** llama.cpp's limit on a tensor name (GGML_MAX_NAME, counting the terminating zero). */
const MAX_NAME_BYTES = 63;

/** GGUF's value type codes. */
export const GGUF_VALUE_TYPES = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
} as const;
/** A scalar value type (anything but array). */
export type GgufScalarType = Exclude<keyof typeof GGUF_VALUE_TYPES, 'array'>;
/** One scalar: numbers for the 8–32-bit and float types, bigint (or a safe integer) for u64/i64. */
export type GgufScalar = number | bigint | boolean | string;
/** A metadata value with its type; arrays hold scalars of one type. */
export type GgufValue =
  | { type: GgufScalarType; value: GgufScalar }
  | { type: 'array'; itemType: GgufScalarType; value: readonly GgufScalar[] };

/** Typed metadata values: gguf.u32(6), gguf.str('llama'), gguf.array('string', tokens). */
export const gguf = {
  u8: (value: number): GgufValue => ({ type: 'u8', value }),
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  u64: (value: number | bigint): GgufValue => ({ type: 'u64', value }),
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  f64: (value: number): GgufValue => ({ type: 'f64', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  array: (itemType: GgufScalarType, value: readonly GgufScalar[]): GgufValue => ({ type: 'array', itemType, value }),
};

/** The ggml tensor types we write: elements per block and bytes per block. */
export const GGML_TYPES = {
  F32: { code: 0, blockSize: 1, blockBytes: 4 },
  F16: { code: 1, blockSize: 1, blockBytes: 2 },
  Q4_0: { code: 2, blockSize: 32, blockBytes: 18 },
  Q8_0: { code: 8, blockSize: 32, blockBytes: 34 },
} as const;
/** A ggml tensor type name. */
export type GgmlTypeName = keyof typeof GGML_TYPES;

/** A tensor to write: its dims innermost first (a [out, in] weight is {in, out}) and its bytes. */
export interface GgufTensor {
  name: string;
  dims: readonly number[];
  type: GgmlTypeName;
  /** The bytes, or a function that makes them when the writer reaches this tensor (so only one is held at a time). */
  bytes: Uint8Array | (() => Uint8Array);
}

/** A tensor as the reader found it: offset is relative to the data section. */
export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: GgmlTypeName;
  offset: number;
  size: number;
}

/** A GGUF file as read: its metadata in file order, tensor infos, and the data of each tensor. */
export interface GgufFile {
  version: number;
  alignment: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Where the data section starts in the file. */
  dataOffset: number;
  /** The bytes of a tensor (a view into the file's bytes). */
  data(name: string): Uint8Array;
}

/** Bytes a tensor of this type and these dims (innermost first) takes, unpadded. */
export function ggmlTensorBytes(dims: readonly number[], type: GgmlTypeName): number {
  const t = GGML_TYPES[type];
  const count = dims.reduce((a, b) => a * b, 1);
  return (count / t.blockSize) * t.blockBytes;
}

const padTo = (n: number, alignment: number) => (alignment - (n % alignment)) % alignment;

/** The header (magic … tensor infos) and the padding before the data section, as bytes; checks every entry. */
export function ggufHeader(metadata: ReadonlyMap<string, GgufValue> | readonly [string, GgufValue][], tensors: readonly Omit<GgufTensor, 'bytes'>[]): { header: Uint8Array; alignment: number; sizes: number[] } {
  const entries = [...metadata];
  const alignmentEntry = entries.find(([key]) => key === 'general.alignment')?.[1];
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (alignmentEntry) {
    const a = alignmentEntry.value;
    if (alignmentEntry.type !== 'u32' || typeof a !== 'number' || a <= 0 || (a & (a - 1)) !== 0) {
      throw new Error(`gguf: general.alignment: ${JSON.stringify(alignmentEntry)}, expected a u32 power of two`);
    }
    alignment = a;
  }
  const w = new ByteWriter();
  w.u32(MAGIC);
  w.u32(VERSION);
  w.u64(tensors.length);
  w.u64(entries.length);
  const keys = new Set<string>();
  for (const [key, value] of entries) {
    if (keys.has(key)) throw new Error(`gguf: metadata key '${key}' appears twice, expected each key once`);
    keys.add(key);
    w.string(key);
    w.u32(GGUF_VALUE_TYPES[value.type]);
    if (value.type === 'array') {
      w.u32(GGUF_VALUE_TYPES[value.itemType]);
      w.u64(value.value.length);
      for (const item of value.value) w.scalar(value.itemType, item, key);
    } else {
      w.scalar(value.type, value.value, key);
    }
  }
  const names = new Set<string>();
  const sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const where = `gguf: tensor '${t.name}'`;
    if (names.has(t.name)) throw new Error(`${where} appears twice, expected unique tensor names`);
    names.add(t.name);
    if (Buffer.byteLength(t.name) > MAX_NAME_BYTES) throw new Error(`${where}: name is ${Buffer.byteLength(t.name)} bytes, expected at most ${MAX_NAME_BYTES}`);
    if (!(t.type in GGML_TYPES)) throw new Error(`${where}: type '${t.type}', expected one of ${Object.keys(GGML_TYPES).join(', ')}`);
    if (t.dims.length < 1 || t.dims.length > 4 || t.dims.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`${where}: dims [${t.dims}], expected 1 to 4 positive sizes`);
    }
    const block = GGML_TYPES[t.type].blockSize;
    if (t.dims[0]! % block !== 0) throw new Error(`${where}: rows of ${t.dims[0]} values cannot be ${t.type} (blocks of ${block}), expected a multiple of ${block}`);
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_TYPES[t.type].code);
    w.u64(offset);
    const size = ggmlTensorBytes(t.dims, t.type);
    sizes.push(size);
    offset += size + padTo(size, alignment);
  }
  w.zeros(padTo(w.length, alignment));
  return { header: w.bytes(), alignment, sizes };
}

/** Write a GGUF v3 file atomically (`path.tmp`, fsync, rename); returns its size. On any error the .tmp is removed and `path` is untouched. */
export function writeGguf(path: string, metadata: ReadonlyMap<string, GgufValue> | readonly [string, GgufValue][], tensors: readonly GgufTensor[]): number {
  const { header, alignment, sizes } = ggufHeader(metadata, tensors);
  const tmp = `${path}.tmp`;
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (err) {
    throw new Error(`${path}: cannot write (${(err as Error).message}), expected a writable path in an existing folder`);
  }
  let total = 0;
  const write = (bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    total += bytes.length;
  };
  try {
    write(header);
    const zeros = new Uint8Array(alignment);
    tensors.forEach((t, i) => {
      const bytes = typeof t.bytes === 'function' ? t.bytes() : t.bytes;
      if (bytes.length !== sizes[i]) throw new Error(`gguf: tensor '${t.name}': ${bytes.length} bytes for ${t.type} [${t.dims}], expected ${sizes[i]}`);
      write(bytes);
      write(zeros.subarray(0, padTo(bytes.length, alignment)));
    });
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new Error(`${path}: cannot write (${(err as Error).message}), expected a writable file path`);
  }
  return total;
}

/** Read a GGUF file (or its bytes): header, metadata, tensor infos; errors name the file and the place. */
export function readGguf(source: string | Uint8Array): GgufFile {
  const name = typeof source === 'string' ? source : 'gguf';
  const bytes = typeof source === 'string' ? readFileSync(source) : source;
  const r = new ByteReader(bytes, name);
  const magic = r.u32();
  if (magic !== MAGIC) throw new Error(`${name}: magic 0x${magic.toString(16)}, expected 0x46554747 ("GGUF"): not a GGUF file`);
  const version = r.u32();
  if (version !== VERSION) throw new Error(`${name}: GGUF version ${version}, expected ${VERSION}`);
  const tensorCount = r.count();
  const kvCount = r.count();
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = r.string();
    const type = r.valueType(key);
    if (type === 'array') {
      const itemType = r.valueType(key);
      if (itemType === 'array') throw new Error(`${name}: ${key}: nested arrays are not supported`);
      const n = r.count();
      const value: GgufScalar[] = [];
      for (let j = 0; j < n; j++) value.push(r.scalar(itemType));
      metadata.set(key, { type, itemType, value });
    } else {
      metadata.set(key, { type, value: r.scalar(type) });
    }
  }
  const alignmentValue = metadata.get('general.alignment')?.value;
  const alignment = typeof alignmentValue === 'number' ? alignmentValue : GGUF_DEFAULT_ALIGNMENT;
  const codes = new Map<number, GgmlTypeName>(Object.entries(GGML_TYPES).map(([t, { code }]) => [code, t as GgmlTypeName]));
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const tensorName = r.string();
    const nDims = r.u32();
    const dims = Array.from({ length: nDims }, () => r.count());
    const code = r.u32();
    const type = codes.get(code);
    if (type === undefined) throw new Error(`${name}: tensor '${tensorName}': ggml type ${code}, expected one of ${[...codes.keys()].join(', ')}`);
    tensors.push({ name: tensorName, dims, type, offset: r.count(), size: ggmlTensorBytes(dims, type) });
  }
  const dataOffset = r.at + padTo(r.at, alignment);
  for (const t of tensors) {
    if (t.offset % alignment !== 0) throw new Error(`${name}: tensor '${t.name}': offset ${t.offset} is not a multiple of the alignment ${alignment}`);
    if (dataOffset + t.offset + t.size > bytes.length) throw new Error(`${name}: tensor '${t.name}': bytes ${t.offset}..${t.offset + t.size} lie outside the data section: file truncated?`);
  }
  const byName = new Map(tensors.map((t) => [t.name, t]));
  return {
    version, alignment, metadata, tensors, dataOffset,
    data(tensorName) {
      const t = byName.get(tensorName);
      if (!t) throw new Error(`${name}: no tensor '${tensorName}'`);
      return new Uint8Array(bytes.buffer, bytes.byteOffset + dataOffset + t.offset, t.size); // a plain view, even of a Buffer
    },
  };
}

/** A growing little-endian byte buffer. */
class ByteWriter {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  /** Room for n more bytes at the end; returns the buffer (reallocated if it had to grow) and where they start. */
  private grow(n: number): [Buffer, number] {
    if (this.length + n > this.buf.length) {
      const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    const at = this.length;
    this.length += n;
    return [this.buf, at];
  }

  u32(v: number): void {
    const [buf, at] = this.grow(4);
    buf.writeUInt32LE(v, at);
  }

  u64(v: number | bigint): void {
    const [buf, at] = this.grow(8);
    buf.writeBigUInt64LE(BigInt(v), at);
  }

  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    const [buf, at] = this.grow(bytes.length);
    bytes.copy(buf, at);
  }

  zeros(n: number): void {
    const [buf, at] = this.grow(n);
    buf.fill(0, at, at + n);
  }

  scalar(type: GgufScalarType, v: GgufScalar, key: string): void {
    const bad = () => new Error(`gguf: ${key}: ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)} is not a valid ${type}`);
    if (type === 'string') {
      if (typeof v !== 'string') throw bad();
      this.string(v);
      return;
    }
    if (type === 'bool') {
      if (typeof v !== 'boolean') throw bad();
      const [buf, at] = this.grow(1);
      buf.writeUInt8(v ? 1 : 0, at);
      return;
    }
    if (type === 'u64' || type === 'i64') {
      if (typeof v !== 'bigint' && !Number.isSafeInteger(v)) throw bad();
      const b = BigInt(v as number | bigint);
      if (type === 'u64' ? b < 0n || b >= 1n << 64n : b < -(1n << 63n) || b >= 1n << 63n) throw bad();
      const [buf, at] = this.grow(8);
      if (type === 'u64') buf.writeBigUInt64LE(b, at);
      else buf.writeBigInt64LE(b, at);
      return;
    }
    if (typeof v !== 'number') throw bad();
    const range: Partial<Record<GgufScalarType, [number, number]>> = {
      u8: [0, 0xff], i8: [-0x80, 0x7f], u16: [0, 0xffff], i16: [-0x8000, 0x7fff], u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff],
    };
    const limits = range[type];
    if (limits && (!Number.isInteger(v) || v < limits[0] || v > limits[1])) throw bad();
    const size = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, f64: 8 }[type];
    const [buf, at] = this.grow(size);
    switch (type) {
      case 'u8': buf.writeUInt8(v, at); break;
      case 'i8': buf.writeInt8(v, at); break;
      case 'u16': buf.writeUInt16LE(v, at); break;
      case 'i16': buf.writeInt16LE(v, at); break;
      case 'u32': buf.writeUInt32LE(v, at); break;
      case 'i32': buf.writeInt32LE(v, at); break;
      case 'f32': buf.writeFloatLE(v, at); break;
      case 'f64': buf.writeDoubleLE(v, at); break;
    }
  }

  bytes(): Uint8Array {
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.length);
  }
}

/** A little-endian cursor over a file's bytes; reading past the end names the file. */
class ByteReader {
  private readonly view: DataView;
  at = 0;

  constructor(private readonly bytes: Uint8Array, private readonly name: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private take(n: number): number {
    if (this.at + n > this.bytes.length) throw new Error(`${this.name}: ends at byte ${this.bytes.length}, expected more header (truncated or not GGUF)`);
    const at = this.at;
    this.at += n;
    return at;
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  /** A u64 used as a count, size or offset: must be a safe integer. */
  count(): number {
    const v = this.view.getBigUint64(this.take(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${this.name}: a count of ${v} at byte ${this.at - 8}, too large: not a GGUF file?`);
    return Number(v);
  }

  string(): string {
    const n = this.count();
    const at = this.take(n);
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + at, n).toString('utf8');
  }

  valueType(key: string): keyof typeof GGUF_VALUE_TYPES {
    const code = this.u32();
    const type = (Object.keys(GGUF_VALUE_TYPES) as (keyof typeof GGUF_VALUE_TYPES)[]).find((t) => GGUF_VALUE_TYPES[t] === code);
    if (type === undefined) throw new Error(`${this.name}: ${key}: value type ${code}, expected 0 to 12`);
    return type;
  }

  scalar(type: GgufScalarType): GgufScalar {
    const v = this.view;
    switch (type) {
      case 'u8': return v.getUint8(this.take(1));
      case 'i8': return v.getInt8(this.take(1));
      case 'u16': return v.getUint16(this.take(2), true);
      case 'i16': return v.getInt16(this.take(2), true);
      case 'u32': return v.getUint32(this.take(4), true);
      case 'i32': return v.getInt32(this.take(4), true);
      case 'f32': return v.getFloat32(this.take(4), true);
      case 'f64': return v.getFloat64(this.take(8), true);
      case 'bool': return v.getUint8(this.take(1)) !== 0;
      case 'u64': return v.getBigUint64(this.take(8), true);
      case 'i64': return v.getBigInt64(this.take(8), true);
      case 'string': return this.string();
    }
  }
}
