// Small trained Llama-family folders for the GGUF tests: the 48-character tokenizer of
// io/testing/tiny-llama.ts and a 2-layer model trained for a few seconds on State of the Union text
// (lowercased, other characters turned into spaces). Trained, because a random model's next-token
// probabilities are nearly flat, so f16 rounding could swap near-tied greedy choices and a test of
// equal ids would say nothing. Shapes suit q8_0: every matrix row (64 or 128 values) is a whole
// number of 32-value blocks, so no tensor falls back to f16.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BatchLoader } from '../../data/loader.ts';
import { ShardWriter } from '../../data/shards.ts';
import { llamaConfigFromJson } from '../../io/llama-config.ts';
import { loadLanguageModel, type LoadedLlama } from '../../io/model-folder.ts';
import { writeSafetensors } from '../../io/safetensors.ts';
import { TINY_LLAMA_CHARS, writeTinyLlamaFolder } from '../../io/testing/tiny-llama.ts';
import { writeJsonAtomic } from '../../util/atomic.ts';
import { Llama } from '../../models/llama.ts';
import { sotuTexts } from '../../serve/testing/fixtures.ts';
import { trainLoop } from '../../train/trainer.ts';

/** config.json of a tiny model of the family: GQA (4 query heads, 2 kv heads), tied embeddings. */
export function tinyLlamaConfigJson(modelType: 'llama' | 'qwen2' | 'qwen3'): Record<string, unknown> {
  return {
    architectures: [{ llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' }[modelType]],
    model_type: modelType,
    vocab_size: 48,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    max_position_embeddings: 256,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: true,
    bos_token_id: 1,
    eos_token_id: 2,
    ...(modelType === 'qwen2' || modelType === 'qwen3' ? { use_sliding_window: false } : {}),
  };
}

/** The training text in the tiny tokenizer's alphabet. */
export function tinyLlamaText(): string {
  const allowed = new Set(TINY_LLAMA_CHARS);
  return [...sotuTexts(3).join('\n').toLowerCase()].map((c) => (allowed.has(c) ? c : ' ')).join('');
}

/** Writes a trained tiny model folder at `dir` and returns it loaded. */
export async function makeTrainedTinyLlama(dir: string, modelType: 'llama' | 'qwen2' | 'qwen3', opts: { steps?: number; seed?: number } = {}): Promise<LoadedLlama> {
  await writeTinyLlamaFolder(dir);
  const json = tinyLlamaConfigJson(modelType);
  const model = new Llama(llamaConfigFromJson(json), { seed: opts.seed ?? 3 });
  const work = await mkdtemp(path.join(os.tmpdir(), 'genlab-tiny-llama-'));
  try {
    const { tokenizer } = await loadLanguageModel(dir); // the fixture's weights are replaced below
    const writer = new ShardWriter({ dir: work, prefix: 'train', vocabSize: tokenizer.vocabSize });
    writer.append(tokenizer.encode(tinyLlamaText()));
    const shards = writer.finish().map((f) => path.join(work, f.file));
    model.train();
    await trainLoop(model, new BatchLoader({ shards, batchSize: 8, seqLen: 64, seed: 1 }), new BatchLoader({ shards, batchSize: 8, seqLen: 64, mode: 'sequential', seed: 1 }), {
      steps: opts.steps ?? 150,
      lr: 1e-2,
      seed: 1,
      outDir: path.join(work, 'run'),
      evalEvery: 0,
      evalBatches: 1,
      checkpointEvery: 0,
    });
    model.eval();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  await writeSafetensors(
    path.join(dir, 'model.safetensors'),
    model.namedParameters().map(([name, t]) => ({ name, dtype: 'F32' as const, shape: [...t.shape], data: t.toArray() as Float32Array })),
    { format: 'pt' },
  );
  await writeJsonAtomic(path.join(dir, 'config.json'), json);
  return (await loadLanguageModel(dir)) as LoadedLlama;
}
