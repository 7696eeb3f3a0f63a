// Llama-family weights from a Hugging Face folder: model.safetensors, or shards listed by
// model.safetensors.index.json. Tensors in F32, BF16 or F16 are converted straight into the
// parameters' device memory, chunk by chunk, so loading needs no second copy of the model.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Llama } from '../models/llama.ts';
import { formatShape, markWritten } from '../tensor/tensor.ts';
import { openSafetensors, SafetensorsError, writeSafetensors, type SafetensorsReader } from './safetensors.ts';

/** Buffers some exporters keep next to the weights; the model recomputes them. */
const DERIVED = /\.rotary_emb\.inv_freq$/;

/** Which file holds each tensor: from the shard index, or everything in model.safetensors. */
function tensorFiles(dir: string): Map<string, string> | string {
  const index = path.join(dir, 'model.safetensors.index.json');
  if (!fs.existsSync(index)) return path.join(dir, 'model.safetensors');
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(index, 'utf8'));
  } catch (err) {
    throw new SafetensorsError(index, `cannot be read as JSON: ${(err as Error).message}`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new SafetensorsError(index, 'needs a "weight_map" object from tensor names to shard files');
  }
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || !shard.endsWith('.safetensors')) {
      throw new SafetensorsError(index, `maps to ${JSON.stringify(shard)}; shards must be .safetensors files in the same folder`, name);
    }
    out.set(name, path.join(dir, shard));
  }
  return out;
}

/**
 * Loads a Llama-family checkpoint folder into `model` (names and shapes must match its config).
 * A stored lm_head.weight is ignored when the config ties it to the embedding, as transformers does.
 */
export function loadLlamaWeights(model: Llama, dir: string): void {
  const files = tensorFiles(dir);
  const readers = new Map<string, SafetensorsReader>();
  const open = (file: string): SafetensorsReader => {
    let r = readers.get(file);
    if (!r) {
      r = openSafetensors(file);
      readers.set(file, r);
    }
    return r;
  };
  try {
    const where = new Map<string, string>();
    if (typeof files === 'string') for (const name of open(files).names) where.set(name, files);
    else for (const [name, file] of files) where.set(name, file);
    const own = model.stateDict();
    const source = typeof files === 'string' ? files : path.join(dir, 'model.safetensors.index.json');
    for (const name of where.keys()) {
      if (own.has(name) || DERIVED.test(name) || (name === 'lm_head.weight' && model.config.tieWordEmbeddings)) continue;
      throw new SafetensorsError(source, `is not a parameter of this ${model.config.modelType} configuration (expected names like ${[...own.keys()].slice(0, 3).join(', ')}, ...); is config.json from the same model?`, name);
    }
    const missing = [...own.keys()].filter((k) => !where.has(k));
    if (missing.length > 0) {
      throw new SafetensorsError(source, `is missing ${missing.length} parameter(s): ${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ', ...' : ''}`);
    }
    for (const [name, t] of own) {
      const file = where.get(name)!;
      const reader = open(file);
      const info = reader.info(name);
      const same = info.shape.length === t.shape.length && info.shape.every((d, i) => d === t.shape[i]);
      if (!same) throw new SafetensorsError(file, `has shape ${formatShape(info.shape)} but the model expects ${formatShape(t.shape)}; does config.json match the weights?`, name);
      // Straight into device memory: reading allocates nothing on the device, so the view stays valid.
      t.device.refreshViews();
      reader.readF32Into(name, t.device.f32, t.ptr);
      markWritten(t.storage);
    }
  } finally {
    for (const r of readers.values()) r.close();
  }
}

/**
 * Writes the parameters as model.safetensors in float32 with HF LlamaForCausalLM names (the
 * module names already are), without lm_head.weight when it is tied, as transformers saves.
 */
export async function saveLlamaWeights(model: Llama, file: string): Promise<void> {
  const tensors = model.namedParameters().map(([name, t]) => ({ name, dtype: 'F32' as const, shape: [...t.shape], data: t.toArray() as Float32Array }));
  await writeSafetensors(file, tensors, { format: 'pt' });
}
