// `genlab export --format gguf`: a loaded model folder → one GGUF file for llama.cpp (and an Ollama
// Modelfile beside it). Weight matrices take the requested type; norms, biases, position
// embeddings and rope factors stay float32, as llama.cpp's own converter keeps them. q8_0 needs
// rows that are a multiple of 32 values; a matrix whose rows are not is written as f16 instead
// (llama.cpp's converter falls back the same way), and the result says which.

import { statSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';
import { encodeGgml, type GgmlWriteType } from '../io/ggml-quants.ts';
import { gguf, writeGguf, type GgufTensorToWrite, type GgufValue } from '../io/gguf.ts';
import type { LoadedLlama, LoadedModel } from '../io/model-folder.ts';
import { tokenizerJsonString } from '../tokenizer/formats.ts';
import { modelToGguf } from './gguf-model.ts';
import { vocabToGguf } from './gguf-vocab.ts';
import { modelfileText, ollamaTemplate, type ChatFormat } from './modelfile.ts';

export const GGUF_TYPES = ['f32', 'f16', 'bf16', 'q8_0'] as const;
export type GgufExportType = (typeof GGUF_TYPES)[number];

const STORAGE: Record<GgufExportType, GgmlWriteType> = { f32: 'F32', f16: 'F16', bf16: 'BF16', q8_0: 'Q8_0' };
/** general.file_type: llama.cpp's LLAMA_FTYPE values. */
const FILE_TYPE: Record<GgufExportType, number> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 };

export interface ExportGgufOptions {
  type: GgufExportType;
  /** The .gguf path. */
  out: string;
  /** general.name (default: the model folder's name). */
  name?: string;
  /** Also write an Ollama Modelfile beside the file (default true). */
  modelfile?: boolean;
  onTensor?: (done: number, total: number, bytes: number) => void;
}

export interface ExportGgufResult {
  file: string;
  arch: string;
  /** Size of the .gguf in bytes. */
  bytes: number;
  /** How many tensors were stored in each ggml type. */
  tensorTypes: Record<string, number>;
  modelfile: string | null;
  chatFormat: ChatFormat;
  notes: string[];
}

export async function exportGguf(lm: LoadedModel | LoadedLlama, opts: ExportGgufOptions): Promise<ExportGgufResult> {
  if (!(GGUF_TYPES as readonly string[]).includes(opts.type)) throw new Error(`--type ${opts.type} is not a GGUF type genlab writes; use one of ${GGUF_TYPES.join(', ')}`);
  const m = modelToGguf(lm);
  const notes = [...m.notes];
  const config = lm.config as { bosTokenId?: number | null; eosTokenId?: number | null };
  const vocab = vocabToGguf(JSON.parse(tokenizerJsonString(lm.tokenizer)) as Record<string, unknown>, lm.tokenizer, {
    vocabSize: m.vocabSize,
    bosTokenId: config.bosTokenId ?? lm.generationConfig?.bosTokenId ?? null,
    eosTokenId: config.eosTokenId ?? firstId(lm.generationConfig?.eosTokenId) ?? null,
  });
  notes.push(...vocab.notes);
  const storage = STORAGE[opts.type];
  const tensorTypes: Record<string, number> = {};
  const fallback: string[] = [];
  const tensors: GgufTensorToWrite[] = m.tensors.map((t) => {
    let type: GgmlWriteType = t.role === 'f32' ? 'F32' : storage;
    if (type === 'Q8_0' && t.shape[t.shape.length - 1]! % 32 !== 0) {
      type = 'F16';
      fallback.push(t.name);
    }
    tensorTypes[type] = (tensorTypes[type] ?? 0) + 1;
    return { name: t.name, shape: t.shape, type, data: () => encodeGgml(type, t.values()) };
  });
  if (fallback.length > 0) {
    notes.push(`${fallback.length} matri${fallback.length === 1 ? 'x has rows' : 'ces have rows'} that are not a multiple of 32 values (${fallback.slice(0, 3).join(', ')}${fallback.length > 3 ? ', ...' : ''}); q8_0 needs whole blocks of 32, so ${fallback.length === 1 ? 'it is' : 'they are'} stored as f16`);
  }
  const name = opts.name ?? path.basename(path.resolve(lm.dir));
  const metadata: [string, GgufValue][] = [
    ['general.architecture', gguf.str(m.arch)],
    ['general.type', gguf.str('model')],
    ['general.name', gguf.str(name)],
    ['general.file_type', gguf.u32(FILE_TYPE[opts.type])],
    ...(opts.type === 'q8_0' ? ([['general.quantization_version', gguf.u32(2)]] as [string, GgufValue][]) : []),
    ...m.metadata,
    ...vocab.metadata,
  ];
  await writeGguf(opts.out, metadata, tensors, opts.onTensor ? { onTensor: opts.onTensor } : {});
  const bytes = statSync(opts.out).size;
  const tmpl = ollamaTemplate(lm.tokenizer.config.chatTemplate, {
    bos: vocab.bosId === null ? null : vocab.tokens[vocab.bosId]!,
    eos: vocab.eosId === null ? null : vocab.tokens[vocab.eosId]!,
  });
  let modelfile: string | null = null;
  if (opts.modelfile !== false) {
    modelfile = path.join(path.dirname(path.resolve(opts.out)), 'Modelfile');
    await writeFileAtomic(modelfile, modelfileText(path.basename(opts.out), tmpl));
  }
  return { file: path.resolve(opts.out), arch: m.arch, bytes, tensorTypes, modelfile, chatFormat: tmpl.format, notes };
}

function firstId(v: number | number[] | null | undefined): number | null | undefined {
  return Array.isArray(v) ? v[0] : v;
}
