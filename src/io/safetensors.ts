// The safetensors format, read and written by our own code:
//   8 bytes   little-endian u64 N = header length
//   N bytes   UTF-8 JSON {"__metadata__"?: {str: str}, name: {dtype, shape, data_offsets: [b, e]}, ...}
//   rest      tensor bytes; data_offsets are relative to the start of this region
// Readers must not trust the file: the header is bounded (100 MB, as the reference library),
// parsed before any tensor is touched, and checked so that every tensor's offsets agree with its
// shape and dtype and the tensors tile the data region exactly (no gaps, no overlaps, no tail).
// Tensors are then read on demand with positioned reads, so opening a 500 MB checkpoint costs
// one small read and reading one tensor allocates only that tensor.
// The writer follows the reference implementation's layout: tensors sorted by dtype alignment
// (descending, in its enum order) then by name, header padded with spaces to a multiple of 8.

import * as fs from 'node:fs';
import * as os from 'node:os';
import { AtomicFileWriter, AtomicFileWriterSync } from '../util/atomic.ts';
import {
  f16Table32,
  f32ToF16Bits,
  f8e4m3ToF32,
  f8e5m2ToF32,
} from './half.ts';

/** Element types with a whole number of bytes. Order = the reference library's enum order. */
export const SAFETENSORS_DTYPES = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'C64',
  'F64',
  'I64',
  'U64',
] as const;
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

const DTYPE_SIZE: Record<SafetensorsDtype, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, C64: 8, F64: 8, I64: 8, U64: 8,
};
const DTYPE_RANK = new Map<string, number>(SAFETENSORS_DTYPES.map((d, i) => [d, i]));
/** Sub-byte formats exist in the spec; their element count does not map to whole bytes. */
const SUB_BYTE_DTYPES = new Set(['F4', 'F6_E2M3', 'F6_E3M2']);

/** Same bound as the reference implementation: a larger header is treated as hostile. */
export const MAX_HEADER_BYTES = 100_000_000;

export function dtypeSize(dtype: SafetensorsDtype): number {
  return DTYPE_SIZE[dtype];
}

export function isSafetensorsDtype(x: unknown): x is SafetensorsDtype {
  return typeof x === 'string' && DTYPE_RANK.has(x);
}

/** An error in a safetensors file; names the file and, when known, the tensor. */
export class SafetensorsError extends Error {
  readonly file: string;
  readonly tensor: string | undefined;
  constructor(file: string, message: string, tensor?: string) {
    super(`safetensors file ${file}: ${tensor !== undefined ? `tensor "${tensor}": ` : ''}${message}`);
    this.name = 'SafetensorsError';
    this.file = file;
    this.tensor = tensor;
  }
}

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  numel: number;
  /** Offsets relative to the data region, as stored in the header. */
  dataOffsets: [number, number];
  /** Absolute byte offset of the first element in the file/buffer. */
  fileOffset: number;
  byteLength: number;
}

export interface ParsedHeader {
  metadata: Record<string, string>;
  hasMetadata: boolean;
  /** Sorted by data offset. */
  tensors: TensorInfo[];
  headerLength: number;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function checkLittleEndian(): void {
  if (os.endianness() !== 'LE') throw new Error('genlab reads safetensors only on little-endian hosts');
}

/**
 * Validate the 8-byte prefix and JSON header. `totalBytes` is the size of the whole file/buffer.
 * Exported so other readers (e.g. an HTTP range reader) can reuse the checks.
 */
export function parseSafetensorsHeader(
  prefix: Uint8Array,
  readHeader: (length: number) => Uint8Array,
  totalBytes: number,
  label: string,
): ParsedHeader {
  if (totalBytes < 8) {
    throw new SafetensorsError(label, `file is ${totalBytes} bytes, too small to hold the 8-byte header length (is it truncated or not a safetensors file?)`);
  }
  const n64 = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(label, `header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt file, or not a safetensors file)`);
  }
  const n = Number(n64);
  if (8 + n > totalBytes) {
    throw new SafetensorsError(label, `header length ${n} runs past the end of the ${totalBytes}-byte file (truncated download or corrupt file)`);
  }
  const headerBytes = readHeader(n);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(label, 'header is not valid UTF-8 (corrupt file, or not a safetensors file)');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(label, `header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(json)) throw new SafetensorsError(label, 'header JSON must be an object mapping tensor names to {dtype, shape, data_offsets}');

  const metadata: Record<string, string> = {};
  let hasMetadata = false;
  const tensors: TensorInfo[] = [];
  const dataStart = 8 + n;
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      hasMetadata = true;
      if (!isPlainObject(raw)) throw new SafetensorsError(label, '"__metadata__" must be an object of string values');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw new SafetensorsError(label, `"__metadata__" value for key "${k}" must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    if (!isPlainObject(raw)) throw new SafetensorsError(label, 'entry must be an object {dtype, shape, data_offsets}', name);
    const { dtype, shape, data_offsets: offsets } = raw;
    if (!isSafetensorsDtype(dtype)) {
      const why = SUB_BYTE_DTYPES.has(String(dtype)) ? 'is a sub-byte format genlab does not read' : 'is unknown';
      throw new SafetensorsError(label, `dtype ${JSON.stringify(dtype)} ${why}; supported: ${SAFETENSORS_DTYPES.join(', ')}`, name);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(label, `shape ${JSON.stringify(shape)} must be an array of non-negative integers`, name);
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]
    ) {
      throw new SafetensorsError(label, `data_offsets ${JSON.stringify(offsets)} must be [begin, end] with 0 <= begin <= end`, name);
    }
    let numel = 1;
    for (const d of shape as number[]) {
      numel *= d;
      if (!Number.isSafeInteger(numel)) throw new SafetensorsError(label, `shape ${JSON.stringify(shape)} has too many elements`, name);
    }
    const byteLength = numel * DTYPE_SIZE[dtype];
    const [begin, end] = offsets as [number, number];
    if (end - begin !== byteLength) {
      throw new SafetensorsError(label, `shape ${JSON.stringify(shape)} with dtype ${dtype} needs ${byteLength} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`, name);
    }
    tensors.push({
      name, dtype, shape: (shape as number[]).slice(), numel,
      dataOffsets: [begin, end], fileOffset: dataStart + begin, byteLength,
    });
  }
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  const dataBytes = totalBytes - dataStart;
  let cursor = 0;
  let previous = '';
  for (const t of tensors) {
    const [begin, end] = t.dataOffsets;
    if (begin < cursor) throw new SafetensorsError(label, `data_offsets [${begin}, ${end}] overlap tensor "${previous}" (which ends at ${cursor})`, t.name);
    if (begin > cursor) throw new SafetensorsError(label, `data_offsets [${begin}, ${end}] leave a gap after byte ${cursor} of the data region`, t.name);
    if (end > dataBytes) {
      throw new SafetensorsError(label, `data_offsets [${begin}, ${end}] run past the end of the data region (${dataBytes} bytes): the file is truncated`, t.name);
    }
    cursor = end;
    previous = t.name;
  }
  if (cursor !== dataBytes) {
    throw new SafetensorsError(label, `the tensors cover ${cursor} bytes of data but the file holds ${dataBytes}: ${dataBytes - cursor} trailing bytes belong to no tensor`);
  }
  return { metadata, hasMetadata, tensors, headerLength: n };
}

/** Typed arrays a tensor can be read into. */
export type NumericArray =
  | Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array
  | Int8Array | Uint8Array | BigInt64Array | BigUint64Array;

/** Random access to the bytes of a safetensors file or buffer. */
interface ByteSource {
  size: number;
  readInto(position: number, target: Uint8Array): void;
  close(): void;
}

function fileSource(path: string): ByteSource {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'ENOENT' ? ' (no such file; check the path)' : '';
    throw new SafetensorsError(path, `cannot open: ${e.message}${hint}`);
  }
  const size = fs.fstatSync(fd).size;
  let open = true;
  return {
    size,
    readInto(position, target) {
      if (!open) throw new SafetensorsError(path, 'reader is closed');
      let done = 0;
      while (done < target.byteLength) {
        // Node caps one read at 2 GB; large tensors are read in 1 GB pieces.
        const want = Math.min(target.byteLength - done, 1 << 30);
        const got = fs.readSync(fd, target, done, want, position + done);
        if (got === 0) throw new SafetensorsError(path, `unexpected end of file at byte ${position + done} (the file shrank while open?)`);
        done += got;
      }
    },
    close() {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}

function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    readInto(position, target) {
      target.set(bytes.subarray(position, position + target.byteLength));
    },
    close() {},
  };
}

/** Raw bytes are converted in pieces of this many elements, bounding temporary memory. */
const CONVERT_CHUNK = 1 << 20;

export class SafetensorsReader {
  readonly path: string;
  readonly metadata: Record<string, string>;
  readonly hasMetadata: boolean;
  /** Tensor descriptions in file order. */
  readonly tensors: readonly TensorInfo[];
  private readonly byName: Map<string, TensorInfo>;
  private readonly source: ByteSource;

  constructor(source: ByteSource, label: string) {
    checkLittleEndian();
    this.path = label;
    this.source = source;
    try {
      const prefix = new Uint8Array(Math.min(8, source.size));
      source.readInto(0, prefix);
      const parsed = parseSafetensorsHeader(
        prefix,
        (length) => {
          const h = new Uint8Array(length);
          source.readInto(8, h);
          return h;
        },
        source.size,
        label,
      );
      this.metadata = parsed.metadata;
      this.hasMetadata = parsed.hasMetadata;
      this.tensors = parsed.tensors;
      this.byName = new Map(parsed.tensors.map((t) => [t.name, t]));
    } catch (err) {
      source.close();
      throw err;
    }
  }

  /** Names in file order. */
  get names(): string[] {
    return this.tensors.map((t) => t.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.byName.get(name);
    if (t === undefined) {
      const some = this.names.slice(0, 8).join(', ');
      const more = this.tensors.length > 8 ? `, ... (${this.tensors.length} tensors)` : '';
      throw new SafetensorsError(this.path, `no such tensor; the file has: ${some}${more}`, name);
    }
    return t;
  }

  /** A copy of the tensor's raw little-endian bytes. */
  readBytes(name: string): Uint8Array {
    const t = this.info(name);
    const out = new Uint8Array(t.byteLength);
    this.source.readInto(t.fileOffset, out);
    return out;
  }

  /** Read a floating-point tensor as float32 (F16/BF16/F64/F8 converted). */
  readF32(name: string): Float32Array {
    const out = new Float32Array(this.info(name).numel);
    this.readF32Into(name, out, 0);
    return out;
  }

  /** Read a floating-point tensor into `out[offset .. offset+numel)` (e.g. a flat parameter buffer). */
  readF32Into(name: string, out: Float32Array, offset = 0): void {
    const t = this.info(name);
    if (offset < 0 || offset + t.numel > out.length) {
      throw new SafetensorsError(this.path, `destination has room for ${out.length - offset} elements at offset ${offset} but the tensor has ${t.numel}`, name);
    }
    if (t.dtype === 'F32') {
      this.source.readInto(t.fileOffset, new Uint8Array(out.buffer, out.byteOffset + offset * 4, t.numel * 4));
      return;
    }
    const size = DTYPE_SIZE[t.dtype];
    const convert = floatConverter(t.dtype);
    if (convert === null) {
      throw new SafetensorsError(this.path, `dtype ${t.dtype} is not a floating-point type; use readI32 for integer tensors`, name);
    }
    this.forEachChunk(t, size, (bytes, start) => convert(bytes, out, offset + start));
  }

  /** Read an integer or bool tensor as int32 (64-bit and U32 values are range-checked). */
  readI32(name: string): Int32Array {
    const t = this.info(name);
    const out = new Int32Array(t.numel);
    if (t.dtype === 'I32') {
      this.source.readInto(t.fileOffset, new Uint8Array(out.buffer));
      return out;
    }
    const size = DTYPE_SIZE[t.dtype];
    const fail = (i: number, v: bigint | number): never => {
      throw new SafetensorsError(this.path, `element ${i} = ${v} does not fit in int32`, name);
    };
    this.forEachChunk(t, size, (bytes, start) => {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const count = bytes.byteLength / size;
      for (let i = 0; i < count; i++) {
        let v: number;
        switch (t.dtype) {
          case 'BOOL': case 'U8': v = bytes[i]!; break;
          case 'I8': v = dv.getInt8(i); break;
          case 'I16': v = dv.getInt16(i * 2, true); break;
          case 'U16': v = dv.getUint16(i * 2, true); break;
          case 'U32': v = dv.getUint32(i * 4, true); if (v > 0x7fffffff) fail(start + i, v); break;
          case 'I64': {
            const lo = dv.getInt32(i * 8, true);
            const hi = dv.getInt32(i * 8 + 4, true);
            if (hi !== lo >> 31) fail(start + i, dv.getBigInt64(i * 8, true));
            v = lo;
            break;
          }
          case 'U64': {
            const lo = dv.getUint32(i * 8, true);
            const hi = dv.getUint32(i * 8 + 4, true);
            if (hi !== 0 || lo > 0x7fffffff) fail(start + i, dv.getBigUint64(i * 8, true));
            v = lo;
            break;
          }
          default:
            throw new SafetensorsError(this.path, `dtype ${t.dtype} is not an integer type; use readF32 for floating-point tensors`, name);
        }
        out[start + i] = v;
      }
    });
    return out;
  }

  close(): void {
    this.source.close();
  }

  private forEachChunk(t: TensorInfo, size: number, fn: (bytes: Uint8Array, startElement: number) => void): void {
    const chunk = new Uint8Array(Math.min(t.numel, CONVERT_CHUNK) * size);
    for (let start = 0; start < t.numel; start += CONVERT_CHUNK) {
      const count = Math.min(CONVERT_CHUNK, t.numel - start);
      const view = chunk.subarray(0, count * size);
      this.source.readInto(t.fileOffset + start * size, view);
      fn(view, start);
    }
  }
}

type FloatConverter = (bytes: Uint8Array, out: Float32Array, outOffset: number) => void;

function floatConverter(dtype: SafetensorsDtype): FloatConverter | null {
  // Chunks come from a fresh buffer (offset 0), so aligned typed-array views over them are safe.
  switch (dtype) {
    case 'F16': {
      const table = f16Table32();
      return (bytes, out, o) => {
        const src = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
        for (let i = 0; i < src.length; i++) out[o + i] = table[src[i]!]!;
      };
    }
    case 'BF16':
      return (bytes, out, o) => {
        const src = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
        const dst = new Uint32Array(out.buffer, out.byteOffset + o * 4, src.length);
        for (let i = 0; i < src.length; i++) dst[i] = src[i]! << 16;
      };
    case 'F64':
      return (bytes, out, o) => {
        out.set(new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 3), o);
      };
    case 'F8_E4M3':
    case 'F8_E5M2': {
      const table = new Float32Array(256);
      for (let b = 0; b < 256; b++) table[b] = dtype === 'F8_E4M3' ? f8e4m3ToF32(b) : f8e5m2ToF32(b);
      return (bytes, out, o) => {
        for (let i = 0; i < bytes.byteLength; i++) out[o + i] = table[bytes[i]!]!;
      };
    }
    default:
      return null;
  }
}

/** Open a safetensors file: validates the header now, reads tensors on demand. Call close(). */
export function openSafetensors(path: string): SafetensorsReader {
  return new SafetensorsReader(fileSource(path), path);
}

/** The same reader over bytes already in memory (e.g. an uploaded file). */
export function parseSafetensors(bytes: Uint8Array, label = '<buffer>'): SafetensorsReader {
  return new SafetensorsReader(bufferSource(bytes), label);
}

// ---------------------------------------------------------------- writing

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
  /**
   * Elements in C order. Float32Array may be stored as F32, F16, BF16 or F64 (converted with
   * round-to-nearest-even); Int32Array as I32 or I64; a typed array matching the dtype is stored
   * as is; a Uint8Array of exactly numel*size bytes is taken as raw little-endian bytes.
   */
  data: NumericArray;
}

const NATIVE: Partial<Record<SafetensorsDtype, string[]>> = {
  BOOL: ['Uint8Array'], U8: ['Uint8Array'], I8: ['Int8Array'], I16: ['Int16Array'],
  U16: ['Uint16Array'], F16: ['Uint16Array'], BF16: ['Uint16Array'], I32: ['Int32Array'],
  U32: ['Uint32Array'], F32: ['Float32Array'], F64: ['Float64Array'], I64: ['BigInt64Array'],
  U64: ['BigUint64Array'], C64: ['Float32Array'],
};

type Encoder = (start: number, count: number) => Uint8Array;

function makeEncoder(t: TensorToWrite, numel: number, label: string): Encoder {
  const size = DTYPE_SIZE[t.dtype];
  const kind = t.data.constructor.name;
  const bytesOf = (a: NumericArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const raw = bytesOf(t.data);
  const rawView: Encoder = (start, count) => raw.subarray(start * size, (start + count) * size);
  if (kind === 'Uint8Array' && t.data.byteLength === numel * size) return rawView;
  // C64 stores (re, im) pairs, so its element count is half the float count.
  const elements = t.dtype === 'C64' ? t.data.length / 2 : t.data.length;
  if (elements !== numel) {
    throw new SafetensorsError(label, `shape ${JSON.stringify(t.shape)} has ${numel} elements but data has ${t.data.length}`, t.name);
  }
  if (NATIVE[t.dtype]?.includes(kind)) return rawView;
  if (kind === 'Float32Array' && (t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'F64')) {
    const src = t.data as Float32Array;
    if (t.dtype === 'F64') return (start, count) => bytesOf(Float64Array.from(src.subarray(start, start + count)));
    if (t.dtype === 'F16') {
      return (start, count) => {
        const out = new Uint16Array(count);
        for (let i = 0; i < count; i++) out[i] = f32ToF16Bits(src[start + i]!);
        return bytesOf(out);
      };
    }
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    return (start, count) => {
      const out = new Uint16Array(count);
      for (let i = 0; i < count; i++) {
        const b = bits[start + i]!;
        // Round to nearest even on the dropped 16 bits; NaN is kept quiet instead of rounding to inf.
        out[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) / 65536;
      }
      return bytesOf(out);
    };
  }
  if (kind === 'Float64Array' && t.dtype === 'F32') {
    const src = t.data as Float64Array;
    return (start, count) => bytesOf(Float32Array.from(src.subarray(start, start + count)));
  }
  if (kind === 'Int32Array' && t.dtype === 'I64') {
    const src = t.data as Int32Array;
    return (start, count) => {
      const out = new BigInt64Array(count);
      for (let i = 0; i < count; i++) out[i] = BigInt(src[start + i]!);
      return bytesOf(out);
    };
  }
  throw new SafetensorsError(label, `cannot store a ${kind} as dtype ${t.dtype}; pass a ${NATIVE[t.dtype]?.[0] ?? 'raw Uint8Array'} (or Float32Array for F16/BF16/F64, Int32Array for I64)`, t.name);
}

interface PreparedFile {
  prefix: Uint8Array;
  tensors: { encoder: Encoder; numel: number; size: number }[];
  totalBytes: number;
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function prepare(tensors: readonly TensorToWrite[], metadata: Record<string, string> | undefined, label: string): PreparedFile {
  checkLittleEndian();
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__') throw new SafetensorsError(label, 'the name "__metadata__" is reserved for file metadata; rename the tensor', t.name);
    if (seen.has(t.name)) throw new SafetensorsError(label, 'duplicate tensor name; every tensor needs a unique name', t.name);
    seen.add(t.name);
    if (!isSafetensorsDtype(t.dtype)) throw new SafetensorsError(label, `unknown dtype ${JSON.stringify(t.dtype)}; supported: ${SAFETENSORS_DTYPES.join(', ')}`, t.name);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(label, `shape ${JSON.stringify(t.shape)} must be non-negative integers`, t.name);
    }
  }
  const ordered = [...tensors].sort(
    (a, b) => DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)! || compareUtf8(a.name, b.name),
  );
  // Built by hand: JSON.stringify would move integer-like names ("0", "12") to the front.
  const entries: string[] = [];
  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort(compareUtf8);
    for (const k of keys) {
      if (typeof metadata[k] !== 'string') throw new SafetensorsError(label, `metadata value for "${k}" must be a string (safetensors metadata is a string map); use JSON.stringify for structured values`);
    }
    entries.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  const out: PreparedFile['tensors'] = [];
  for (const t of ordered) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const size = DTYPE_SIZE[t.dtype];
    const encoder = makeEncoder(t, numel, label);
    const end = offset + numel * size;
    entries.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    out.push({ encoder, numel, size });
    offset = end;
  }
  const json = Buffer.from(`{${entries.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded > MAX_HEADER_BYTES) throw new SafetensorsError(label, `header would be ${padded} bytes, over the ${MAX_HEADER_BYTES}-byte limit readers enforce; split the tensors over several files`);
  const prefix = new Uint8Array(8 + padded).fill(0x20);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(padded), true);
  prefix.set(json, 8);
  return { prefix, tensors: out, totalBytes: 8 + padded + offset };
}

function* chunks(p: PreparedFile): Generator<Uint8Array> {
  yield p.prefix;
  for (const t of p.tensors) {
    const step = Math.max(1, Math.floor((16 << 20) / t.size));
    for (let start = 0; start < t.numel; start += step) yield t.encoder(start, Math.min(step, t.numel - start));
  }
}

/** Serialise to one buffer (small files, tests, browser downloads). */
export function serializeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const p = prepare(tensors, metadata, '<buffer>');
  const out = new Uint8Array(p.totalBytes);
  let o = 0;
  for (const c of chunks(p)) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

/** Write a safetensors file atomically, streaming tensor by tensor. */
export async function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Promise<void> {
  const p = prepare(tensors, metadata, path);
  const w = await AtomicFileWriter.open(path);
  try {
    for (const c of chunks(p)) await w.write(c);
  } catch (err) {
    await w.abort();
    throw err;
  }
  await w.commit();
}

export function writeSafetensorsSync(path: string, tensors: readonly TensorToWrite[], metadata?: Record<string, string>): void {
  const p = prepare(tensors, metadata, path);
  const w = new AtomicFileWriterSync(path);
  try {
    for (const c of chunks(p)) w.write(c);
  } catch (err) {
    w.abort();
    throw err;
  }
  w.commit();
}
