// `genlab import FILE.gguf --out DIR`: a llama.cpp model file → a Hugging Face-layout model folder
// genlab loads: config.json, model.safetensors, tokenizer.json, tokenizer_config.json and
// generation_config.json. Architectures: gpt2, llama (Llama, Mistral), qwen2, qwen3. Tensors in
// F32, F16 or BF16 keep their type; Q8_0 and Q4_0 are dequantized to float32 (the values the
// quantized file stands for, exactly). Every file is written atomically.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeJsonAtomic, writeFileAtomic } from '../util/atomic.ts';
import { openGguf } from '../io/gguf.ts';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { ggufGet, gpt2FromGguf, llamaFromGguf, type ImportedModel } from './gguf-model.ts';
import { vocabFromGguf } from './gguf-vocab.ts';

export interface ImportGgufResult {
  dir: string;
  arch: string;
  tensors: number;
  /** ggml types found in the file, with counts. */
  sourceTypes: Record<string, number>;
}

const STORED_AS: Record<string, 'F32' | 'F16' | 'BF16'> = { F32: 'F32', F16: 'F16', BF16: 'BF16' };

export async function importGguf(file: string, outDir: string, opts: { onTensor?: (done: number, total: number) => void } = {}): Promise<ImportGgufResult> {
  const r = openGguf(file);
  try {
    const arch = ggufGet(r, 'general.architecture');
    let model: ImportedModel;
    if (arch === 'gpt2') model = gpt2FromGguf(r);
    else if (arch === 'llama' || arch === 'qwen2' || arch === 'qwen3') model = llamaFromGguf(r, arch);
    else throw new Error(`${file} is a ${JSON.stringify(arch)} model; genlab imports the gpt2, llama (Llama, Mistral), qwen2 and qwen3 architectures`);
    const vocab = vocabFromGguf((key) => ggufGet(r, key), file);
    const sourceTypes: Record<string, number> = {};
    for (const t of r.tensors) sourceTypes[t.type.name] = (sourceTypes[t.type.name] ?? 0) + 1;
    // A tensor nothing maps is a part of the model genlab would silently drop.
    const used = new Set([...model.tensors.map((t) => t.source), 'rope_freqs.weight', ...(arch === 'gpt2' ? ['output.weight'] : [])]);
    const unused = r.tensors.filter((t) => !used.has(t.name)).map((t) => t.name);
    if (unused.length > 0) throw new Error(`${file} has tensors genlab's ${String(arch)} model has no place for: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''}`);
    const tensors: TensorToWrite[] = [];
    for (const [i, t] of model.tensors.entries()) {
      // Half-precision tensors stay half precision (lossless); quantized ones become float32.
      tensors.push({ name: t.name, shape: t.shape, dtype: STORED_AS[r.info(t.source).type.name] ?? 'F32', data: t.values() });
      opts.onTensor?.(i + 1, model.tensors.length);
    }
    await mkdir(outDir, { recursive: true });
    await writeSafetensors(path.join(outDir, 'model.safetensors'), tensors, { format: 'pt' });
    const ids = { bos_token_id: vocab.bosId, eos_token_id: vocab.eosId };
    await writeJsonAtomic(path.join(outDir, 'config.json'), { ...model.config, ...ids });
    await writeJsonAtomic(path.join(outDir, 'generation_config.json'), { ...ids, _from_model_config: true });
    await writeFileAtomic(path.join(outDir, 'tokenizer.json'), JSON.stringify(vocab.tokenizerJson, null, 2) + '\n');
    await writeJsonAtomic(path.join(outDir, 'tokenizer_config.json'), vocab.tokenizerConfig);
    return { dir: outDir, arch: arch as string, tensors: tensors.length, sourceTypes };
  } finally {
    r.close();
  }
}
