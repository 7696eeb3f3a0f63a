// The GGUF container (llama.cpp's model file), read and written by our own code. Layout (v3,
// little-endian; ggml/include/gguf.h):
//   "GGUF", u32 version, u64 tensor count, u64 key-value count
//   each key-value: string key, u32 value type, value (an array: u32 item type, u64 count, items)
//   each tensor: string name, u32 n_dims, u64 ne[n_dims] (innermost first), u32 ggml type,
//                u64 offset into the data section
//   padding to `general.alignment` (default 32), then the data section; every tensor's offset is
//   a multiple of the alignment, with zero bytes between tensors.
// Strings are u64 length + UTF-8 bytes without a terminator; bools are one byte.
// genlab speaks of shapes in row-major order (outermost first, as safetensors and PyTorch do);
// the file stores them reversed (ne[0] is the row length), and this module does the reversal.
// Readers must not trust the file: every count and length is checked against what remains of the
// file before anything is allocated, each tensor's bytes must lie inside the data section, and
// tensors are read on demand with positioned reads.

import * as fs from 'node:fs';
import { AtomicFileWriter } from '../util/atomic.ts';
import { decodeGgml, ggmlByteSize, ggmlType, ggmlTypeById, type GgmlTypeInfo } from './ggml-quants.ts';

export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32

/** GGUF value types (gguf_type), by the names genlab uses. */
export const GGUF_VALUE_TYPES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'] as const;
export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];
export type GgufScalarType = Exclude<GgufValueType, 'array'>;

/** A metadata value: a scalar, or an array of one scalar type (64-bit integers as bigint). */
export type GgufValue =
  | { type: Exclude<GgufScalarType, 'string' | 'bool' | 'u64' | 'i64'>; value: number }
  | { type: 'u64' | 'i64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: GgufScalarType; value: readonly (number | bigint | boolean | string)[] };

export const gguf = {
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  strings: (value: readonly string[]): GgufValue => ({ type: 'array', itemType: 'string', value }),
  i32s: (value: readonly number[]): GgufValue => ({ type: 'array', itemType: 'i32', value }),
  f32s: (value: readonly number[]): GgufValue => ({ type: 'array', itemType: 'f32', value }),
};

/** An error in a GGUF file; names the file and, when known, the key or tensor. */
export class GgufError extends Error {
  constructor(file: string, message: string, where?: string) {
    super(`GGUF file ${file}: ${where !== undefined ? `${where}: ` : ''}${message}`);
    this.name = 'GgufError';
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface GgufTensorToWrite {
  name: string;
  /** Row-major shape (outermost first), as in PyTorch. */
  shape: readonly number[];
  /** ggml type name of the stored bytes. */
  type: string;
  /** The tensor's bytes, made when the writer reaches it so only one tensor is in memory. */
  data: () => Uint8Array;
}

export interface GgufWriteOptions {
  /** Called after each tensor's bytes are written (for progress). */
  onTensor?: (done: number, total: number, bytes: number) => void;
}

class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.room(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }

  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }

  u64(v: number | bigint): void {
    this.room(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.bytes(b);
  }

  scalar(type: GgufScalarType, v: number | bigint | boolean | string, key: string): void {
    const bad = (): never => {
      throw new Error(`GGUF metadata ${key}: ${JSON.stringify(String(v))} is not a valid ${type}`);
    };
    if (type === 'string') return typeof v === 'string' ? this.string(v) : bad();
    if (type === 'bool') return typeof v === 'boolean' ? this.u8(v ? 1 : 0) : bad();
    if (type === 'u64' || type === 'i64') {
      if (typeof v !== 'bigint' && !(typeof v === 'number' && Number.isSafeInteger(v))) bad();
      this.room(8);
      if (type === 'u64') this.view.setBigUint64(this.length, BigInt(v as number | bigint), true);
      else this.view.setBigInt64(this.length, BigInt(v as number | bigint), true);
      this.length += 8;
      return;
    }
    if (typeof v !== 'number' || Number.isNaN(v)) return bad();
    const size = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, f64: 8 }[type];
    this.room(size);
    const o = this.length;
    const intRange = { u8: [0, 0xff], i8: [-0x80, 0x7f], u16: [0, 0xffff], i16: [-0x8000, 0x7fff], u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff] } as const;
    if (type !== 'f32' && type !== 'f64') {
      const [lo, hi] = intRange[type];
      if (!Number.isInteger(v) || v < lo || v > hi) bad();
    }
    switch (type) {
      case 'u8': this.view.setUint8(o, v); break;
      case 'i8': this.view.setInt8(o, v); break;
      case 'u16': this.view.setUint16(o, v, true); break;
      case 'i16': this.view.setInt16(o, v, true); break;
      case 'u32': this.view.setUint32(o, v, true); break;
      case 'i32': this.view.setInt32(o, v, true); break;
      case 'f32': this.view.setFloat32(o, v, true); break;
      case 'f64': this.view.setFloat64(o, v, true); break;
    }
    this.length += size;
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/**
 * Writes a GGUF v3 file atomically (a temp file renamed into place): metadata in the given order,
 * then the tensors in the given order. `general.alignment` in the metadata, if present, sets the
 * alignment (a power of two); otherwise it is 32.
 */
export async function writeGguf(file: string, metadata: ReadonlyArray<readonly [string, GgufValue]>, tensors: readonly GgufTensorToWrite[], opts: GgufWriteOptions = {}): Promise<void> {
  const keys = new Set<string>();
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  for (const [key, v] of metadata) {
    if (keys.has(key)) throw new Error(`GGUF metadata key ${key} is given twice`);
    keys.add(key);
    if (key === 'general.alignment') {
      if (v.type !== 'u32' || v.value <= 0 || (v.value & (v.value - 1)) !== 0) throw new Error('general.alignment must be a u32 power of two');
      alignment = v.value;
    }
  }
  const head = new ByteSink();
  head.u32(MAGIC);
  head.u32(GGUF_VERSION);
  head.u64(tensors.length);
  head.u64(metadata.length);
  for (const [key, v] of metadata) {
    head.string(key);
    head.u32(GGUF_VALUE_TYPES.indexOf(v.type));
    if (v.type === 'array') {
      head.u32(GGUF_VALUE_TYPES.indexOf(v.itemType));
      head.u64(v.value.length);
      for (const item of v.value) head.scalar(v.itemType, item, key);
    } else {
      head.scalar(v.type, v.value, key);
    }
  }
  const names = new Set<string>();
  const sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF tensor ${t.name} is given twice`);
    names.add(t.name);
    if (t.shape.length < 1 || t.shape.length > 4 || !t.shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw new Error(`GGUF tensor ${t.name}: shape [${t.shape.join(', ')}] must have 1 to 4 positive dimensions`);
    }
    const info = ggmlType(t.type);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const size = ggmlByteSize(info, numel, t.shape[t.shape.length - 1]!);
    head.string(t.name);
    head.u32(t.shape.length);
    for (let i = t.shape.length - 1; i >= 0; i--) head.u64(t.shape[i]!);
    head.u32(info.id);
    head.u64(offset);
    sizes.push(size);
    offset = alignUp(offset + size, alignment);
  }
  const header = head.result();
  const w = await AtomicFileWriter.open(file);
  try {
    await w.write(header);
    await w.write(new Uint8Array(alignUp(header.length, alignment) - header.length));
    let written = 0;
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i]!;
      const data = t.data();
      if (data.length !== sizes[i]) throw new Error(`GGUF tensor ${t.name}: ${data.length} bytes given, but a ${t.type} tensor of shape [${t.shape.join(', ')}] has ${sizes[i]}`);
      await w.write(data);
      const pad = alignUp(data.length, alignment) - data.length;
      if (i < tensors.length - 1 && pad > 0) await w.write(new Uint8Array(pad));
      written += data.length;
      opts.onTensor?.(i + 1, tensors.length, written);
    }
    await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface GgufTensorInfo {
  name: string;
  /** Row-major shape (outermost first); the file's ne reversed. */
  shape: number[];
  numel: number;
  type: GgmlTypeInfo;
  /** Absolute byte offset in the file and byte length. */
  offset: number;
  byteLength: number;
}

/** Positioned, buffered reads of the header, each checked against the file's size. */
class HeaderCursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly file: string,
  ) {}

  fail(message: string, where?: string): never {
    throw new GgufError(this.file, message, where);
  }

  take(n: number, what: string): Buffer {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.size) this.fail(`${what} (${n} bytes at offset ${this.pos}) runs past the end of the file (${this.size} bytes); the file is truncated or not GGUF`);
    const end = this.bufStart + this.buf.length;
    if (this.pos < this.bufStart || this.pos + n > end) {
      const len = Math.min(this.size - this.pos, Math.max(n, 1 << 20));
      this.buf = Buffer.alloc(len);
      let done = 0;
      while (done < len) done += fs.readSync(this.fd, this.buf, done, len - done, this.pos + done);
      this.bufStart = this.pos;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }

  u32(what: string): number {
    return this.take(4, what).readUInt32LE(0);
  }

  u64(what: string): number {
    const v = this.take(8, what).readBigUInt64LE(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} is ${v}, beyond any real file`);
    return Number(v);
  }

  string(what: string): string {
    const n = this.u64(`${what} length`);
    return this.take(n, what).toString('utf8');
  }

  scalar(type: GgufScalarType, what: string): number | bigint | boolean | string {
    switch (type) {
      case 'u8': return this.take(1, what).readUInt8(0);
      case 'i8': return this.take(1, what).readInt8(0);
      case 'u16': return this.take(2, what).readUInt16LE(0);
      case 'i16': return this.take(2, what).readInt16LE(0);
      case 'u32': return this.take(4, what).readUInt32LE(0);
      case 'i32': return this.take(4, what).readInt32LE(0);
      case 'f32': return this.take(4, what).readFloatLE(0);
      case 'bool': return this.take(1, what).readUInt8(0) !== 0;
      case 'string': return this.string(what);
      case 'u64': return this.take(8, what).readBigUInt64LE(0);
      case 'i64': return this.take(8, what).readBigInt64LE(0);
      case 'f64': return this.take(8, what).readDoubleLE(0);
    }
  }
}

const SCALAR_SIZE: Record<GgufScalarType, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, string: 8, u64: 8, i64: 8, f64: 8 };

function valueType(c: HeaderCursor, key: string): GgufValueType {
  const id = c.u32(`type of ${key}`);
  const t = GGUF_VALUE_TYPES[id];
  if (t === undefined) c.fail(`value type ${id} is not a GGUF type (0..${GGUF_VALUE_TYPES.length - 1})`, key);
  return t;
}

export class GgufReader {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  private readonly byName: Map<string, GgufTensorInfo>;
  private fd: number | null;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'r');
    try {
      const c: HeaderCursor = new HeaderCursor(this.fd, fs.fstatSync(this.fd).size, file);
      if (c.size < 24 || c.u32('magic') !== MAGIC) c.fail('does not start with "GGUF"; it is not a GGUF model file');
      this.version = c.u32('version');
      if (this.version !== 2 && this.version !== 3) c.fail(`is GGUF version ${this.version}; genlab reads versions 2 and 3 (convert older files with a current llama.cpp)`);
      const nTensors = c.u64('tensor count');
      const nKv = c.u64('metadata count');
      // Each entry takes at least 8 + 4 (+ 1) bytes, so counts beyond the file's size are lies.
      if (nKv * 13 > c.size || nTensors * 24 > c.size) c.fail(`claims ${nKv} metadata entries and ${nTensors} tensors, more than a ${c.size}-byte file can hold`);
      const metadata = new Map<string, GgufValue>();
      for (let i = 0; i < nKv; i++) {
        const key = c.string(`metadata key ${i}`);
        if (metadata.has(key)) c.fail('appears twice', key);
        const type = valueType(c, key);
        if (type === 'array') {
          const itemType = valueType(c, `${key} items`);
          if (itemType === 'array') c.fail('nested arrays are not supported', key);
          const n = c.u64(`${key} length`);
          if (n * SCALAR_SIZE[itemType] > c.size - c.pos) c.fail(`array of ${n} ${itemType} is longer than the rest of the file`, key);
          const value: (number | bigint | boolean | string)[] = new Array(n);
          for (let j = 0; j < n; j++) value[j] = c.scalar(itemType, `${key}[${j}]`);
          metadata.set(key, { type: 'array', itemType, value });
        } else {
          metadata.set(key, { type, value: c.scalar(type, key) } as GgufValue);
        }
      }
      this.metadata = metadata;
      const align = metadata.get('general.alignment');
      this.alignment = GGUF_DEFAULT_ALIGNMENT;
      if (align !== undefined) {
        if (align.type !== 'u32' || align.value <= 0 || (align.value & (align.value - 1)) !== 0) c.fail('must be a u32 power of two', 'general.alignment');
        this.alignment = align.value;
      }
      const raw: { name: string; shape: number[]; type: GgmlTypeInfo; rel: number }[] = [];
      const names = new Set<string>();
      for (let i = 0; i < nTensors; i++) {
        const name = c.string(`tensor ${i} name`);
        if (names.has(name)) c.fail('appears twice', `tensor "${name}"`);
        names.add(name);
        const nDims = c.u32(`${name} n_dims`);
        if (nDims < 1 || nDims > 4) c.fail(`has ${nDims} dimensions; ggml tensors have 1 to 4`, `tensor "${name}"`);
        const ne: number[] = [];
        for (let d = 0; d < nDims; d++) ne.push(c.u64(`${name} ne[${d}]`));
        if (!ne.every((d) => d > 0)) c.fail(`has a zero dimension (ne = [${ne.join(', ')}])`, `tensor "${name}"`);
        const typeId = c.u32(`${name} type`);
        const type = ggmlTypeById(typeId);
        if (!type) c.fail(`has ggml type ${typeId}, which genlab does not know`, `tensor "${name}"`);
        const rel = c.u64(`${name} offset`);
        if (rel % this.alignment !== 0) c.fail(`offset ${rel} is not a multiple of the alignment ${this.alignment}`, `tensor "${name}"`);
        raw.push({ name, shape: ne.slice().reverse(), type, rel });
      }
      const dataStart = alignUp(c.pos, this.alignment);
      this.tensors = raw.map(({ name, shape, type, rel }) => {
        const numel = shape.reduce((a, b) => a * b, 1);
        if (!Number.isSafeInteger(numel)) c.fail(`has ${shape.join('×')} values, too many`, `tensor "${name}"`);
        let byteLength: number;
        try {
          byteLength = ggmlByteSize(type, numel, shape[shape.length - 1]!);
        } catch (err) {
          c.fail((err as Error).message, `tensor "${name}"`);
        }
        const offset = dataStart + rel;
        if (offset + byteLength > c.size) c.fail(`its ${byteLength} bytes at offset ${offset} run past the end of the file (${c.size} bytes); the file is truncated`, `tensor "${name}"`);
        return { name, shape, numel, type, offset, byteLength };
      });
      const sorted = [...this.tensors].sort((a, b) => a.offset - b.offset);
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i]!.offset < sorted[i - 1]!.offset + sorted[i - 1]!.byteLength) c.fail(`overlaps tensor "${sorted[i - 1]!.name}"`, `tensor "${sorted[i]!.name}"`);
      }
      this.byName = new Map(this.tensors.map((t) => [t.name, t]));
    } catch (err) {
      this.close();
      throw err;
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): GgufTensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new GgufError(this.file, `has no tensor named "${name}" (it has ${this.tensors.slice(0, 4).map((x) => x.name).join(', ')}${this.tensors.length > 4 ? ', ...' : ''})`);
    return t;
  }

  /** The stored bytes of one tensor. */
  readBytes(name: string): Uint8Array {
    const t = this.info(name);
    if (this.fd === null) throw new GgufError(this.file, 'is closed');
    const out = Buffer.alloc(t.byteLength);
    let done = 0;
    while (done < t.byteLength) {
      const n = fs.readSync(this.fd, out, done, t.byteLength - done, t.offset + done);
      if (n === 0) throw new GgufError(this.file, 'ended while reading it; the file changed or is truncated', `tensor "${name}"`);
      done += n;
    }
    return out;
  }

  /** One tensor as float32, dequantized from F32/F16/BF16/Q8_0/Q4_0. */
  readF32(name: string): Float32Array {
    const t = this.info(name);
    try {
      return decodeGgml(t.type.name, this.readBytes(name), t.numel);
    } catch (err) {
      if (err instanceof GgufError) throw err;
      throw new GgufError(this.file, (err as Error).message, `tensor "${name}"`);
    }
  }

  /** A metadata value, or undefined. */
  get(key: string): GgufValue | undefined {
    return this.metadata.get(key);
  }

  close(): void {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }
}

export function openGguf(file: string): GgufReader {
  return new GgufReader(file);
}
