// The tiny test model after a couple of seconds of training on the texts its tokenizer was trained
// on. A random-weight model emits loose UTF-8 bytes that decode to U+FFFD, so its text does not
// re-encode to the tokens it generated and a watermark cannot be found in it; after 250 steps the
// model writes letters and words, its text round-trips, and its probabilities are mixed (some
// tokens confident, others not), as the low-confidence marks need.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BatchLoader } from '../../data/loader.ts';
import { ShardWriter } from '../../data/shards.ts';
import { trainLoop } from '../../train/trainer.ts';
import { makeTinyModel, sotuTexts, type TinyModel } from './fixtures.ts';

export async function makeTrainedTinyModel(opts: { steps?: number; lr?: number } = {}): Promise<TinyModel & { valLoss: number }> {
  const tiny = await makeTinyModel();
  const { tokenizer, model } = tiny.lm;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'genlab-serve-train-'));
  try {
    const writer = new ShardWriter({ dir, prefix: 'train', vocabSize: tokenizer.vocabSize });
    for (const text of sotuTexts(5)) writer.append(tokenizer.encode(text));
    const shards = writer.finish().map((f) => path.join(dir, f.file));
    model.train();
    const r = await trainLoop(model, new BatchLoader({ shards, batchSize: 8, seqLen: 64, seed: 1 }), new BatchLoader({ shards, batchSize: 8, seqLen: 64, mode: 'sequential', seed: 1 }), {
      steps: opts.steps ?? 250,
      lr: opts.lr ?? 2e-2,
      seed: 1,
      outDir: path.join(dir, 'run'),
      evalEvery: 0,
      evalBatches: 1,
      checkpointEvery: 0,
    });
    model.eval();
    return { ...tiny, valLoss: r.valLoss };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
