// GPT-2 weights ⇄ safetensors, by Hugging Face names. Files saved from GPT2LMHeadModel prefix
// names with `transformer.` and may carry `lm_head.weight` (tied to wte); older checkpoints store
// the causal-mask buffers `attn.bias` / `attn.masked_bias`. All of these load without conversion.

import type { Gpt } from '../models/gpt.ts';
import { formatShape } from '../tensor/tensor.ts';
import { openSafetensors, writeSafetensors, SafetensorsError } from './safetensors.ts';

const MASK_BUFFER = /(^|\.)attn\.(bias|masked_bias)$/;

/** Loads model.safetensors into the model's parameters (shapes and names must match). */
export function loadGptWeights(model: Gpt, file: string): void {
  const reader = openSafetensors(file);
  try {
    const own = model.stateDict();
    const byOwnName = new Map<string, string>();
    let lmHead: string | null = null;
    for (const stored of reader.names) {
      const name = stored.startsWith('transformer.') ? stored.slice('transformer.'.length) : stored;
      if (MASK_BUFFER.test(name)) continue;
      if (name === 'lm_head.weight') {
        lmHead = stored;
        continue;
      }
      if (!own.has(name)) {
        throw new SafetensorsError(file, `is not a parameter of this GPT-2 configuration (expected names like ${[...own.keys()].slice(0, 3).join(', ')}, ...); is config.json from the same model?`, stored);
      }
      byOwnName.set(name, stored);
    }
    const missing = [...own.keys()].filter((k) => !byOwnName.has(k));
    if (missing.length > 0) {
      throw new SafetensorsError(file, `is missing ${missing.length} parameter(s): ${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ', ...' : ''}`);
    }
    for (const [name, t] of own) {
      const stored = byOwnName.get(name)!;
      const info = reader.info(stored);
      const same = info.shape.length === t.shape.length && info.shape.every((d, i) => d === t.shape[i]);
      if (!same) {
        throw new SafetensorsError(file, `has shape ${formatShape(info.shape)} but the model expects ${formatShape(t.shape)}; does config.json match the weights?`, stored);
      }
      t.set(reader.readF32(stored));
    }
    if (lmHead) {
      const info = reader.info(lmHead);
      if (info.shape[0] !== model.config.vocabSize || info.shape[1] !== model.config.nEmbd) {
        throw new SafetensorsError(file, `has shape ${formatShape(info.shape)}; a GPT-2 LM head is (vocab_size, n_embd)`, lmHead);
      }
    }
  } finally {
    reader.close();
  }
}

/** Writes the parameters as model.safetensors (GPT2Model names, as the Hub's GPT-2 files). */
export async function saveGptWeights(model: Gpt, file: string, metadata: Record<string, string> = {}): Promise<void> {
  const tensors = model.namedParameters().map(([name, t]) => ({ name, dtype: 'F32' as const, shape: [...t.shape], data: t.toArray() as Float32Array }));
  await writeSafetensors(file, tensors, { format: 'pt', ...metadata });
}
