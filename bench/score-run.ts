// A finished `genlab train` run, scored the same way for every bench script that compares runs:
// its validation curve from metrics.jsonl and its loss on the whole held-out split of its corpus
// (not the 8 batches the training loop checks), on its own tokenizer, split and context; and, when
// asked, its bits per byte on given texts, which compares runs across tokenizers and corpora.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createDevice, setDefaultDevice } from '../src/backend/registry.ts';
import { scoreDocuments, type CorpusLoss } from '../src/account/corpus-loss.ts';
import { runSources } from '../src/account/held-out.ts';
import type { Document } from '../src/data/corpus.ts';
import { BatchLoader } from '../src/data/loader.ts';
import { loadLanguageModel } from '../src/io/model-folder.ts';
import { nonEmbeddingParameters, prepareTrainingData } from '../src/train/run.ts';
import { evaluate } from '../src/train/trainer.ts';

export interface ScoredRun {
  dir: string;
  steps: number;
  tokens: number;
  seconds: number;
  nonEmbedding: number;
  /** Validation loss on the whole held-out split (nats per token of the run's own tokenizer). */
  valLoss: number;
  /** (step, minutes since the start, validation loss on 8 batches) at every evaluation. */
  curve: { step: number; minutes: number; valLoss: number }[];
  /** Loss and bits per byte on each text asked for, by its name. */
  texts: Record<string, CorpusLoss>;
}

/** A text to score every run on: its documents, read afresh for each run. */
export interface ScoreText {
  name: string;
  documents: () => AsyncIterable<Document>;
}

interface RunRecord {
  hyperparameters: { seqLen: number; seed: number; valFraction: number };
  tokenizer: { vocabSize: number };
  training: { steps: number; tokensSeen: number; trainSeconds: number };
}

/** null when the run has not finished (no run.json yet). */
export async function scoreRun(dir: string, threads?: number, texts: readonly ScoreText[] = []): Promise<ScoredRun | null> {
  if (!existsSync(path.join(dir, 'run.json'))) return null;
  const run = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
  const metrics = (await readFile(path.join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
  const curve = metrics.filter((m) => m['type'] === 'eval').map((m) => ({ step: Number(m['step']), minutes: Number(m['elapsedSeconds']) / 60, valLoss: Number(m['valLoss']) }));
  const dev = await createDevice(threads ? { threads } : {});
  setDefaultDevice(dev);
  try {
    const lm = await loadLanguageModel(dir, { device: dev });
    const { model, tokenizer } = lm;
    // The run's own split: same corpus, tokenizer, seed and held-out fraction (the shards are cached).
    const { data } = await prepareTrainingData({
      sources: runSources(lm.runRecord, dir).map((s) => s.source),
      vocabSize: run.tokenizer.vocabSize,
      cacheDir: '.cache/genlab',
      seed: run.hyperparameters.seed,
      valFraction: run.hyperparameters.valFraction,
      quiet: true,
      tokenizer,
    });
    const val = new BatchLoader({ shards: data.valFiles, batchSize: 8, seqLen: run.hyperparameters.seqLen, mode: 'sequential', seed: run.hyperparameters.seed });
    const valLoss = evaluate(model, val, val.batchesPerEpoch);
    val.close();
    const scores: Record<string, CorpusLoss> = {};
    for (const t of texts) scores[t.name] = await scoreDocuments(lm, t.documents());
    return { dir, steps: run.training.steps, tokens: run.training.tokensSeen, seconds: run.training.trainSeconds, nonEmbedding: nonEmbeddingParameters(model), valLoss, curve, texts: scores };
  } finally {
    await dev.close();
  }
}
