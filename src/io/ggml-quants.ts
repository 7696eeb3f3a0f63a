// ggml's tensor element types as stored in GGUF files, and the codecs genlab implements for them:
// F32, F16 and BF16 both ways, Q8_0 both ways, Q4_0 read only (community files use it; genlab
// writes Q8_0 when it quantizes). Block layouts are ggml's (ggml-common.h):
//   Q8_0  32 values: f16 scale d, then 32 int8 q;          x = q · d
//   Q4_0  32 values: f16 scale d, then 16 bytes of nibbles; x[j] = (lo(b[j]) − 8) · d,
//                                                           x[j+16] = (hi(b[j]) − 8) · d
// Q8_0 blocks and their quantizer (ggml's quantize_row_q8_0_ref, bit-identical to llama.cpp's) are
// backend/q8-0.ts, shared with the int8 weights genlab decodes with.

import { quantizeQ8_0 } from '../backend/q8-0.ts';
import { f16Table32, f32ToBf16Bits, f32ToF16Bits } from './half.ts';

export { quantizeQ8_0 };

export interface GgmlTypeInfo {
  /** ggml_type enum value (ggml.h). */
  id: number;
  name: string;
  /** Values per block (1 for plain floats and ints). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

/**
 * The element types a GGUF file may hold, with their block geometry (ggml.c type_traits), so a
 * reader can check every tensor's byte size even for types genlab cannot decode.
 */
export const GGML_TYPES: readonly GgmlTypeInfo[] = [
  { id: 0, name: 'F32', blockSize: 1, typeSize: 4 },
  { id: 1, name: 'F16', blockSize: 1, typeSize: 2 },
  { id: 2, name: 'Q4_0', blockSize: 32, typeSize: 18 },
  { id: 3, name: 'Q4_1', blockSize: 32, typeSize: 20 },
  { id: 6, name: 'Q5_0', blockSize: 32, typeSize: 22 },
  { id: 7, name: 'Q5_1', blockSize: 32, typeSize: 24 },
  { id: 8, name: 'Q8_0', blockSize: 32, typeSize: 34 },
  { id: 9, name: 'Q8_1', blockSize: 32, typeSize: 36 },
  { id: 10, name: 'Q2_K', blockSize: 256, typeSize: 84 },
  { id: 11, name: 'Q3_K', blockSize: 256, typeSize: 110 },
  { id: 12, name: 'Q4_K', blockSize: 256, typeSize: 144 },
  { id: 13, name: 'Q5_K', blockSize: 256, typeSize: 176 },
  { id: 14, name: 'Q6_K', blockSize: 256, typeSize: 210 },
  { id: 15, name: 'Q8_K', blockSize: 256, typeSize: 292 },
  { id: 20, name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  { id: 23, name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  { id: 24, name: 'I8', blockSize: 1, typeSize: 1 },
  { id: 25, name: 'I16', blockSize: 1, typeSize: 2 },
  { id: 26, name: 'I32', blockSize: 1, typeSize: 4 },
  { id: 27, name: 'I64', blockSize: 1, typeSize: 8 },
  { id: 28, name: 'F64', blockSize: 1, typeSize: 8 },
  { id: 30, name: 'BF16', blockSize: 1, typeSize: 2 },
];

const BY_ID = new Map(GGML_TYPES.map((t) => [t.id, t]));
const BY_NAME = new Map(GGML_TYPES.map((t) => [t.name, t]));

/** The types genlab writes (`genlab export --type`). */
export type GgmlWriteType = 'F32' | 'F16' | 'BF16' | 'Q8_0';
/** The types genlab reads into float32 (`genlab import`). */
export const DECODABLE_TYPES: readonly string[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0'];

export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

export function ggmlType(name: string): GgmlTypeInfo {
  const t = BY_NAME.get(name);
  if (!t) throw new Error(`unknown ggml type ${name}; known: ${GGML_TYPES.map((x) => x.name).join(', ')}`);
  return t;
}

/** Bytes of a tensor of `numel` values whose rows (innermost dimension) are `rowLength` long. */
export function ggmlByteSize(type: GgmlTypeInfo, numel: number, rowLength: number): number {
  if (rowLength % type.blockSize !== 0) {
    throw new Error(`a ${type.name} tensor needs rows that are a multiple of ${type.blockSize} values, got rows of ${rowLength}`);
  }
  return (numel / type.blockSize) * type.typeSize;
}

const QK = 32;

/** float32 values → the bytes of a tensor of the given type (little-endian). */
export function encodeGgml(type: GgmlWriteType, x: Float32Array): Uint8Array {
  switch (type) {
    case 'F32':
      return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
    case 'F16': {
      const out = new Uint16Array(x.length);
      for (let i = 0; i < x.length; i++) out[i] = f32ToF16Bits(x[i]!);
      return new Uint8Array(out.buffer);
    }
    case 'BF16': {
      const out = new Uint16Array(x.length);
      for (let i = 0; i < x.length; i++) out[i] = f32ToBf16Bits(x[i]!);
      return new Uint8Array(out.buffer);
    }
    case 'Q8_0':
      return quantizeQ8_0(x);
  }
}

/** The float32 values of `numel` elements stored as `type` (one of DECODABLE_TYPES). */
export function decodeGgml(type: string, bytes: Uint8Array, numel: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(numel);
  const half = f16Table32();
  switch (type) {
    case 'F32':
      for (let i = 0; i < numel; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'F16':
      for (let i = 0; i < numel; i++) out[i] = half[view.getUint16(i * 2, true)]!;
      return out;
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < numel; i++) u[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'Q8_0':
      for (let b = 0; b < numel / QK; b++) {
        const d = half[view.getUint16(b * 34, true)]!;
        for (let j = 0; j < QK; j++) out[b * QK + j] = view.getInt8(b * 34 + 2 + j) * d;
      }
      return out;
    case 'Q4_0':
      for (let b = 0; b < numel / QK; b++) {
        const d = half[view.getUint16(b * 18, true)]!;
        for (let j = 0; j < QK / 2; j++) {
          const byte = bytes[b * 18 + 2 + j]!;
          out[b * QK + j] = ((byte & 0x0f) - 8) * d;
          out[b * QK + j + QK / 2] = ((byte >> 4) - 8) * d;
        }
      }
      return out;
    default:
      throw new Error(`genlab cannot read ${type} tensors (it reads ${DECODABLE_TYPES.join(', ')}); convert the file to one of those with llama.cpp's llama-quantize (e.g. q8_0) first`);
  }
}
